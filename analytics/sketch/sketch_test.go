package sketch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Every quantile of very different distributions is within the stated accuracy of the exact
// value of its rank, and a sketch merged from parts answers as the sketch of the whole.
func TestQuantileWithinAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, gen := range map[string]func() float64{
		"water level": func() float64 { return 80 + r.NormFloat64() },
		"heavy tail":  func() float64 { return math.Exp(r.NormFloat64() * 4) },
		"temperature": func() float64 { return r.NormFloat64() * 10 },
		"with zeros":  func() float64 { return float64(r.IntN(3)) * r.Float64() },
	} {
		var whole, a, b Sketch
		var values []float64
		for i := range 20000 {
			v := gen()
			values = append(values, v)
			whole.Add(v)
			if i%3 == 0 {
				a.Add(v)
			} else {
				b.Add(v)
			}
		}
		a.Merge(&b)
		slices.Sort(values)
		for _, q := range []float64{0, 0.05, 0.5, 0.95, 0.99, 1} {
			exact := values[int(q*float64(len(values)-1))]
			got := whole.Quantile(q)
			if math.Abs(got-exact) > Accuracy*math.Abs(exact)+MinIndexable {
				t.Errorf("%s: q%.2f = %g, exact %g: off by more than %g", name, q, got, exact, Accuracy)
			}
			if merged := a.Quantile(q); merged != got {
				t.Errorf("%s: q%.2f of the merged parts %g, of the whole %g", name, q, merged, got)
			}
		}
		if a.Count() != 20000 {
			t.Errorf("%s: merged count %d", name, a.Count())
		}
	}
}

// Keys sort as their values, so that ClickHouse's sumMap (which sorts keys) keeps the order
// Quantile needs.
func TestKeysOrderAsValues(t *testing.T) {
	vs := []float64{-1e300, -5, -1, -1e-8, -1e-12, 0, 1e-12, 1e-8, 0.5, 1, 80, 1e12, 1e300}
	for i := 1; i < len(vs); i++ {
		if Key(vs[i-1]) > Key(vs[i]) {
			t.Errorf("Key(%g) = %d > Key(%g) = %d", vs[i-1], Key(vs[i-1]), vs[i], Key(vs[i]))
		}
	}
	for _, v := range vs {
		if got := Value(Key(v)); math.Abs(got-v) > Accuracy*math.Abs(v)+MinIndexable {
			t.Errorf("Value(Key(%g)) = %g", v, got)
		}
	}
	if !math.IsNaN(Quantile(nil, nil, 0.5)) || !math.IsNaN((&Sketch{}).Quantile(0.95)) {
		t.Error("an empty sketch has a quantile")
	}
}

// Package sketch is a mergeable quantile sketch with a stated relative error, for the rollups'
// p95: each value is counted in the bucket of its logarithm to the base γ = (1+α)/(1−α)
// (DDSketch's logarithmic mapping, Masson, Rim and Lee, VLDB 2019), so that a quantile read
// back is within α = 0.01 % of a value of the right rank, whatever the distribution (a river
// level of 80 m above the datum to within 8 mm). A sketch is
// counts by bucket key; two merge by adding counts, which is what ClickHouse's sumMap does to
// stored ones (keys in the same order as the values they stand for).
package sketch

import (
	"math"
	"slices"
	"strconv"
)

// Accuracy is the sketch's relative error α: a quantile it returns is within α of the true
// value of that rank (relative to the value, for values of at least MinIndexable).
const Accuracy = 0.0001

// MinIndexable is the smallest magnitude with a bucket of its own; smaller values count as 0.
const MinIndexable = 1e-9

// offset keeps the keys of positive values positive and of negative values negative, so that
// keys sort as their values do: every magnitude from MinIndexable up has a bucket index above
// −offset.
const offset = 1 << 20

var (
	gamma   = (1 + Accuracy) / (1 - Accuracy)
	lnGamma = math.Log(gamma)
)

// Key is the bucket of v: 0 for |v| < MinIndexable, offset + ⌈log_γ v⌉ for a positive v and
// −(offset + ⌈log_γ |v|⌉) for a negative one. Keys order as their values.
func Key(v float64) int32 {
	a := math.Abs(v)
	if a < MinIndexable {
		return 0
	}
	k := int32(offset + math.Ceil(math.Log(a)/lnGamma))
	if v < 0 {
		return -k
	}
	return k
}

// KeySQL is Key in ClickHouse SQL over the column named col (18.16 and current servers).
func KeySQL(col string) string {
	ln, off := strconv.FormatFloat(lnGamma, 'g', -1, 64), strconv.Itoa(offset)
	return "multiIf(abs(" + col + ") < " + strconv.FormatFloat(MinIndexable, 'g', -1, 64) + ", toInt32(0), " + col + " > 0, toInt32(" + off +
		" + ceil(log(" + col + ") / " + ln + ")), -toInt32(" + off + " + ceil(log(-" + col + ") / " + ln + ")))"
}

// Value is the value bucket k stands for: 2γ^i/(γ+1) for bucket index i, within α of every
// value the bucket holds.
func Value(k int32) float64 {
	if k == 0 {
		return 0
	}
	sign := 1.0
	if k < 0 {
		sign, k = -1, -k
	}
	i := float64(k - offset)
	return sign * 2 * math.Pow(gamma, i) / (gamma + 1)
}

// Sketch counts values by bucket, in key order. The zero value is empty and ready to use.
// It is small for few distinct buckets (a minute of a sensor holds one or a few).
type Sketch struct {
	keys   []int32
	counts []uint64
	n      uint64
}

// Add counts v once.
func (s *Sketch) Add(v float64) { s.AddKey(Key(v)) }

// AddKey counts once a value whose bucket is k (Key of the value): for a value counted in
// several sketches, its logarithm taken once.
func (s *Sketch) AddKey(k int32) {
	s.addKey(k, 1)
	s.n++
}

func (s *Sketch) addKey(k int32, c uint64) {
	i, found := slices.BinarySearch(s.keys, k)
	if found {
		s.counts[i] += c
		return
	}
	s.keys = slices.Insert(s.keys, i, k)
	s.counts = slices.Insert(s.counts, i, c)
}

// Count is the number of values added.
func (s *Sketch) Count() uint64 { return s.n }

// Merge adds o's counts to s.
func (s *Sketch) Merge(o *Sketch) {
	for i, k := range o.keys {
		s.addKey(k, o.counts[i])
	}
	s.n += o.n
}

// Buckets returns the sketch's keys in order and their counts, as ClickHouse stores them. The
// slices are the sketch's own: copy them to keep them past the next Add.
func (s *Sketch) Buckets() ([]int32, []uint64) { return s.keys, s.counts }

// Quantile is the q-quantile (0 ≤ q ≤ 1) of the values added: NaN for none.
func (s *Sketch) Quantile(q float64) float64 { return Quantile(s.keys, s.counts, q) }

// Quantile is the q-quantile of a sketch stored as keys in order with their counts (a merged
// sumMap): the value of the bucket holding the value of rank q·(n−1). NaN for no values.
func Quantile(keys []int32, counts []uint64, q float64) float64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	if n == 0 || len(keys) != len(counts) {
		return math.NaN()
	}
	rank := uint64(q * float64(n-1))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > rank {
			return Value(keys[i])
		}
	}
	return Value(keys[len(keys)-1])
}

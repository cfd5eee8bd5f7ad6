package alerts

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// routing is where the routing tree sends one alert.
type routing struct {
	units    []string
	escalate []Escalation
	// group is the notification group: the matched route's path and its group_by values.
	group string
}

// matches reports whether a satisfies the node's matchers.
func (rt *Route) matches(a *Alert) bool {
	if !Matchers(rt.Match).Matches(a) {
		return false
	}
	for name, re := range rt.matchRE {
		if !re.MatchString(a.Label(name)) {
			return false
		}
	}
	return true
}

// route walks the tree from rt (which a matches) and collects units, escalation and group.
func (rt *Route) route(a *Alert) routing {
	var r routing
	rt.walk(a, "/", nil, &r)
	sort.Strings(r.units)
	r.units = slices.Compact(r.units)
	return r
}

func (rt *Route) walk(a *Alert, path string, groupBy []string, r *routing) {
	r.units = append(r.units, rt.Units...)
	if len(rt.Escalate) > 0 {
		r.escalate = rt.Escalate
	}
	if len(rt.GroupBy) > 0 {
		groupBy = rt.GroupBy
	}
	r.group = groupKey(path, groupBy, a)
	for i := range rt.Routes {
		child := &rt.Routes[i]
		if !child.matches(a) {
			continue
		}
		child.walk(a, path+strconv.Itoa(i)+"/", groupBy, r)
		if !child.Continue {
			return
		}
	}
}

func groupKey(path string, groupBy []string, a *Alert) string {
	var b strings.Builder
	b.WriteString(path)
	for _, l := range groupBy {
		b.WriteString("{" + l + "=" + a.Label(l) + "}")
	}
	return b.String()
}

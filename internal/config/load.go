package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable that overrides a setting.
const EnvPrefix = "IOC_"

// envReserved are IOC_* variables that belong to the tooling around ioc, not to its settings.
var envReserved = []string{"IOC_CONFIG", "IOC_TEST_", "IOC_LOCAL_", "IOC_BENCH_", "IOC_CLUSTER_"}

// Load reads the YAML file at path (none when path is empty) over the defaults, then applies
// IOC_* overrides from environ (os.Environ() form). It returns every problem found, each
// naming its path; it does not run Validate.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	var probs Problems
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		probs = append(probs, decodeYAML(data, &cfg)...)
	}
	probs = append(probs, applyEnv(&cfg, environ)...)
	if len(probs) > 0 {
		return cfg, probs
	}
	return cfg, nil
}

// decodeYAML decodes data strictly over cfg: unknown keys and values of the wrong type are
// problems with their paths, and nothing else is taken from a document that has any.
func decodeYAML(data []byte, cfg *Config) Problems {
	return DecodeStrict(data, cfg)
}

// DecodeStrict decodes one YAML document into v (a pointer to a struct) the way the config file
// is decoded: an unknown key or a value of the wrong shape is a Problem naming its path, and
// nothing is taken from a document that has any. Other YAML files (the sensor catalog, rules)
// use it too.
func DecodeStrict(data []byte, v any) Problems {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return Problems{{Path: "(file)", Msg: err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Problems{{Path: "(file)", Msg: "more than one YAML document"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	var probs Problems
	checkNode(root, reflect.TypeOf(v).Elem(), "", &probs)
	if len(probs) > 0 {
		return probs
	}
	if err := root.Decode(v); err != nil {
		return Problems{{Path: "(file)", Msg: err.Error()}}
	}
	return nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

// checkNode compares a YAML node with the Go type it decodes into and records each unknown key
// and each value of the wrong shape under its path.
func checkNode(n *yaml.Node, t reflect.Type, path string, probs *Problems) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	where := func() string {
		if path == "" {
			return "(root)"
		}
		return path
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == timeType {
			var tm time.Time
			if n.Kind != yaml.ScalarNode || n.Decode(&tm) != nil {
				probs.Add(where(), "want %s, got %q (line %d)", typeName(t), n.Value, n.Line)
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			probs.Add(where(), "want a mapping (line %d)", n.Line)
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fields[key.Value]
			if !ok {
				probs.Add(join(path, key.Value), "unknown key (line %d)", key.Line)
				continue
			}
			checkNode(val, f.Type, join(path, key.Value), probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			probs.Add(where(), "want a mapping (line %d)", n.Line)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), probs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			probs.Add(where(), "want a list (line %d)", n.Line)
			return
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			probs.Add(where(), "want a list of %d, got %d (line %d)", t.Len(), len(n.Content), n.Line)
			return
		}
		for i, item := range n.Content {
			checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			probs.Add(where(), "want a single value (line %d)", n.Line)
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			probs.Add(where(), "want %s, got %q (line %d)", typeName(t), n.Value, n.Line)
		}
	}
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 250ms, 30s or 5m"
	case t == timeType:
		return "a time such as 2027-06-30 or 2027-06-30T00:00:00Z"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	default:
		return "a string"
	}
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// EnvName is the environment variable that overrides the setting at a dotted path,
// e.g. clickhouse.addr -> IOC_CLICKHOUSE_ADDR.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// envSetting is one setting that an environment variable can override.
type envSetting struct {
	path  string
	value reflect.Value
}

// envSettings lists every scalar (and list-of-scalar) field under v by its environment name.
func envSettings(v reflect.Value, path string, out map[string]envSetting) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(path, name)
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.Struct:
			envSettings(fv, p, out)
		case fv.Kind() == reflect.Map, fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			// mappings and lists of mappings are set in the file only
		default:
			out[EnvName(p)] = envSetting{path: p, value: fv}
		}
	}
}

// EnvNames lists the environment variables that override settings, sorted.
func EnvNames() []string {
	cfg := Default()
	settings := map[string]envSetting{}
	envSettings(reflect.ValueOf(&cfg).Elem(), "", settings)
	names := make([]string, 0, len(settings))
	for n := range settings {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func applyEnv(cfg *Config, environ []string) Problems {
	settings := map[string]envSetting{}
	envSettings(reflect.ValueOf(cfg).Elem(), "", settings)
	var probs Problems
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || reserved(name) {
			continue
		}
		s, known := settings[name]
		if !known {
			probs.Add(name, "unknown setting (see deploy/config/ioc.example.yaml for the names)")
			continue
		}
		if err := setScalar(s.value, val); err != nil {
			probs.Add(name, "want %s, got %q", typeName(s.value.Type()), val)
		}
	}
	return probs
}

func reserved(name string) bool {
	for _, r := range envReserved {
		if name == r || (strings.HasSuffix(r, "_") && strings.HasPrefix(name, r)) {
			return true
		}
	}
	return false
}

// setScalar parses s into v; a list takes comma-separated items.
func setScalar(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			if err := setScalar(out.Index(i), it); err != nil {
				return err
			}
		}
		v.Set(out)
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}

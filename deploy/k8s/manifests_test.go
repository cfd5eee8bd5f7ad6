package k8s

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/haidang-ioc/ioc/internal/config"
)

// manifests holds the documents of ioc.yaml, decoded.
type manifests struct {
	configMaps   map[string]*corev1.ConfigMap
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
	workloads    map[string]*corev1.PodTemplateSpec // by kind/name
	selectors    map[string]*metav1.LabelSelector
	volumeClaims map[string][]string // a StatefulSet's claim templates
}

// decode reads every document strictly into its Kubernetes API type: an unknown field (a typo)
// or a value of the wrong type fails, as the API server would refuse it.
func decode(t *testing.T, path string) manifests {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, workloads: map[string]*corev1.PodTemplateSpec{},
		selectors: map[string]*metav1.LabelSelector{}, volumeClaims: map[string][]string{}}
	for i, doc := range bytes.Split(body, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		var obj interface{ GetName() string }
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "apps/v1 StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "policy/v1 PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		default:
			t.Fatalf("document %d: %s %s is not a kind this test knows", i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("document %d (%s): %v", i+1, tm.Kind, err)
		}
		key := tm.Kind + "/" + obj.GetName()
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.Service:
			m.services = append(m.services, o)
		case *policyv1.PodDisruptionBudget:
			m.pdbs = append(m.pdbs, o)
		case *batchv1.Job:
			m.workloads[key] = &o.Spec.Template
		case *appsv1.StatefulSet:
			m.workloads[key], m.selectors[key] = &o.Spec.Template, o.Spec.Selector
			for _, c := range o.Spec.VolumeClaimTemplates {
				m.volumeClaims[key] = append(m.volumeClaims[key], c.Name)
			}
		case *appsv1.Deployment:
			m.workloads[key], m.selectors[key] = &o.Spec.Template, o.Spec.Selector
		}
	}
	return m
}

func matches(sel map[string]string, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// Every document decodes strictly; selectors, Services and budgets find their pods; probes and
// mounts name what exists; and each process's configuration, as its environment makes it,
// passes ioc's own validation.
func TestManifests(t *testing.T) {
	m := decode(t, "ioc.yaml")
	for key, sel := range m.selectors {
		if !matches(sel.MatchLabels, m.workloads[key].Labels) {
			t.Errorf("%s: selector %v does not select its own pods %v", key, sel.MatchLabels, m.workloads[key].Labels)
		}
	}
	selects := func(sel map[string]string) bool {
		for _, w := range m.workloads {
			if matches(sel, w.Labels) {
				return true
			}
		}
		return false
	}
	for _, s := range m.services {
		if !selects(s.Spec.Selector) {
			t.Errorf("Service %s selects no pod", s.Name)
		}
	}
	for _, b := range m.pdbs {
		if !selects(b.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget %s selects no pod", b.Name)
		}
	}
	for _, want := range []string{"StatefulSet/ioc-ingest", "StatefulSet/ioc-alerts", "Deployment/ioc-dashboard", "Job/ioc-migrate"} {
		if m.workloads[want] == nil {
			t.Errorf("no %s", want)
		}
	}
	cfgFile := writeConfig(t, m.configMaps["ioc-config"])
	for key, w := range m.workloads {
		t.Run(key, func(t *testing.T) { checkPod(t, m, key, &w.Spec, cfgFile) })
	}
}

// ioc is the binary `ioc check` runs from, built by TestMain.
var ioc string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ioc-k8s-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ioc = filepath.Join(dir, "ioc")
	if out, err := exec.Command("go", "build", "-o", ioc, "../../cmd/ioc").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ioc: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConfig writes ioc.yaml of the ConfigMap to a file, its paths under /etc/ioc/province
// moved to the repository's example files (the province's own files in a deployment).
func writeConfig(t *testing.T, cm *corev1.ConfigMap) string {
	t.Helper()
	if cm == nil || cm.Data["ioc.yaml"] == "" {
		t.Fatal("no ConfigMap ioc-config with ioc.yaml")
	}
	body := strings.NewReplacer(
		"/etc/ioc/province/sensors.yaml", abs(t, "../catalog/sensors.example.yaml"),
		"/etc/ioc/province/cameras.yaml", abs(t, "../catalog/cameras.example.yaml"),
		"/etc/ioc/province/rules.yaml", abs(t, "../rules/rules.example.yaml"),
	).Replace(cm.Data["ioc.yaml"])
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func abs(t *testing.T, rel string) string {
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cameraSecrets are the variables the example camera catalog takes its passwords from, set as
// ioc-camera-secrets would set them.
func cameraSecrets(t *testing.T) []string {
	body, err := os.ReadFile("../catalog/cameras.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, m := range regexp.MustCompile(`password_env: (\w+)`).FindAllStringSubmatch(string(body), -1) {
		env = append(env, m[1]+"=a-camera-password")
	}
	return env
}

// checkPod checks one workload's pod: its probes' port, its mounts' volumes (ConfigMaps of
// the file or created by hand as the header says, claims of its StatefulSet), and its config.
func checkPod(t *testing.T, m manifests, key string, pod *corev1.PodSpec, cfgFile string) {
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		if cm := v.ConfigMap; cm != nil && m.configMaps[cm.Name] == nil && cm.Name != "ioc-province" {
			t.Errorf("volume %s: ConfigMap %s is neither in the file nor one the header says to create", v.Name, cm.Name)
		}
	}
	for _, c := range m.volumeClaims[key] {
		volumes[c] = true
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want ioc alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: want no privilege escalation and a read-only root file system", c.Name)
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p != nil && (p.HTTPGet == nil || !ports[p.HTTPGet.Port.StrVal]) {
			t.Errorf("a probe on a port the container does not name: %+v", p.HTTPGet)
		}
	}
	if !strings.HasPrefix(key, "Job/") && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
		t.Error("a long-running process without readiness and liveness probes")
	}
	mounted := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		if !volumes[vm.Name] {
			t.Errorf("mount %s: no volume %s", vm.MountPath, vm.Name)
		}
		mounted[vm.MountPath] = true
	}
	if !mounted["/etc/ioc/ioc.yaml"] {
		t.Fatal("ioc.yaml is not mounted at /etc/ioc/ioc.yaml")
	}

	// The environment as Kubernetes makes it: $(VAR) expanded, secrets and fields filled in.
	env, vals := []string{}, map[string]string{}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v = "a-secret-from-" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			v = "ioc-test-0"
		}
		for name, val := range vals {
			v = strings.ReplaceAll(v, "$("+name+")", val)
		}
		if strings.Contains(v, "$(") {
			t.Errorf("env %s=%q refers to a variable not set before it", e.Name, e.Value)
		}
		vals[e.Name] = v
		if strings.HasPrefix(e.Name, config.EnvPrefix) {
			env = append(env, e.Name+"="+v)
		}
	}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil || from.SecretRef.Name != "ioc-camera-secrets" {
			t.Fatalf("envFrom %+v: only the camera secrets the header says to create", from)
		}
		env = append(env, cameraSecrets(t)...)
	}
	cfg, err := config.Load(cfgFile, env)
	if err != nil {
		t.Fatalf("ioc's config as %s runs it:\n%v", key, err)
	}
	// ioc check: every setting, the catalogs and the rules, as the process would load them.
	check := exec.Command(ioc, "check", "--config", cfgFile)
	check.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, config.EnvPrefix) }), env...)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("ioc check of the config as %s runs it: %v\n%s", key, err, out)
	}
	if c.Args[0] != "serve" {
		return
	}
	if vals["IOC_ROLES"] == "" {
		t.Errorf("roles %v: want the workload's own, set by IOC_ROLES", cfg.Roles)
	}
	if (cfg.HasRole(config.RoleIngest) || cfg.HasRole(config.RoleStreams)) && !mounted[cfg.Writer.Spool.Dir] {
		t.Errorf("the spool %s is not on a volume: what was accepted would go with the pod", cfg.Writer.Spool.Dir)
	}
	if cfg.HasRole(config.RoleAlerts) && !strings.Contains(cfg.HTTP.AdvertiseURL, "ioc-test-0") {
		t.Errorf("an alert process advertises %q: want its own stable name", cfg.HTTP.AdvertiseURL)
	}
	if cfg.HasRole(config.RoleIngest) && cfg.MQTT.ClientID != "ioc-test-0" {
		t.Errorf("mqtt.client_id %q: want the pod's name (one session per process)", cfg.MQTT.ClientID)
	}
	if slices.Contains(cfg.Roles, config.RoleAlerts) == (cfg.Ingest.SharedGroup != "") && cfg.HasRole(config.RoleIngest) {
		t.Errorf("roles %v with shared group %q: alert processes take every reading, the others share", cfg.Roles, cfg.Ingest.SharedGroup)
	}
	t.Logf("roles %v", cfg.Roles)
}

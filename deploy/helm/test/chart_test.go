// Package test renders the actlog Helm chart (deploy/helm/actlog) with Helm's
// own Go packages, for values.yaml alone and with each overlay, and decodes
// every object strictly into its Kubernetes API type: an unknown or misspelt
// field fails, as it would be dropped (or refused) by the API server. It then
// checks what the chart promises: probes, resources, security contexts,
// volumes, the HPA, the configuration file actlog reads.
//
// It is a module of its own so that actlog's module does not depend on Helm
// and the Kubernetes libraries: cd deploy/helm/test && go test ./...
package test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	k8sjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

const (
	chartDir  = "../actlog"
	release   = "actlog"
	namespace = "analytics"
	nonRoot   = int64(65532)
	// The oldest Kubernetes the chart supports (preStop sleep actions).
	kubeVersion = "v1.30.0"
)

// valueSets are the ways the chart is installed: values.yaml alone, and with
// each overlay beside it (helm install -f overlay.yaml).
var valueSets = []struct {
	name  string
	files []string
	mode  string
}{
	{"default", nil, "kafka"},
	{"embedded", []string{"values-embedded.yaml"}, "embedded"},
	{"msk-iam", []string{"values-msk-iam.yaml"}, "kafka"},
	{"msk-scram", []string{"values-msk-scram.yaml"}, "kafka"},
}

// TestOverlaysCovered fails when a values file is added to the chart
// without being rendered by these tests.
func TestOverlaysCovered(t *testing.T) {
	found, err := filepath.Glob(filepath.Join(chartDir, "values-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tested []string
	for _, vs := range valueSets {
		tested = append(tested, vs.files...)
	}
	for _, f := range found {
		if !slices.Contains(tested, filepath.Base(f)) {
			t.Errorf("%s is not rendered by the tests: add it to valueSets", filepath.Base(f))
		}
	}
}

func TestChart(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderObjects(t, vs.files, nil)
			checkNames(t, objs)
			checkReferences(t, objs)
			checkWorkloads(t, objs)
			checkConfig(t, objs, vs.mode)
			switch vs.mode {
			case "kafka":
				checkKafkaMode(t, objs)
			case "embedded":
				checkEmbeddedMode(t, objs)
			}
			switch vs.name {
			case "msk-iam":
				checkMSKIAM(t, objs)
			case "msk-scram":
				checkMSKSCRAM(t, objs)
			}
		})
	}
}

// TestLint runs `helm lint`'s rules (Chart.yaml, values, templates in lint
// mode) for each values file; a warning or an error fails.
func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			kv := chartutil.KubeVersion{Version: kubeVersion, Major: "1", Minor: "30"}
			l := lint.AllWithKubeVersion(chartDir, readValues(t, vs.files), namespace, &kv)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m.Error())
				}
			}
		})
	}
}

// TestChartRefuses checks the chart's own guards: values that would deploy
// something broken stop the rendering with a message.
func TestChartRefuses(t *testing.T) {
	cases := []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"unknown mode", map[string]any{"mode": "cluster"}, "want kafka or embedded"},
		{"several stores", map[string]any{"process": map[string]any{"replicas": 2}}, "allowMultipleStores"},
		{"kafka without brokers", map[string]any{"config": map[string]any{"kafka": map[string]any{"brokers": []any{}}}}, "needs config.kafka.brokers"},
		{"scram without password", map[string]any{"config": map[string]any{"kafka": map[string]any{"sasl": map[string]any{"mechanism": "scram-sha-512", "username": "actlog"}}}}, "needs a password"},
		{"password in the ConfigMap", map[string]any{"config": map[string]any{"kafka": map[string]any{"sasl": map[string]any{"password": "x"}}}}, "secrets.kafkaSaslPassword"},
		{"sources in config", map[string]any{"config": map[string]any{"sources": []any{}}}, "config.sources is set by the chart"},
		{"unparsable memory limit", map[string]any{"process": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "6.5Gi"}}}}, "cannot size DuckDB"},
		{"plan set twice", map[string]any{"trackingPlan": "events: []\n", "config": map[string]any{"tracking_plan": map[string]any{"file": "/x"}}}, "config.tracking_plan is set by the chart"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, nil, c.extra)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("rendering with %v: error %v, want one containing %q", c.extra, err, c.want)
			}
		})
	}
	// And what they let through: several stores when asked for.
	objs := renderObjects(t, nil, map[string]any{"process": map[string]any{"replicas": 3, "allowMultipleStores": true}})
	if r := one[*appsv1.StatefulSet](t, objs, "actlog-process").Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("process replicas = %v, want 3", r)
	}
}

// TestTrackingPlan: a trackingPlan value becomes its own ConfigMap, mounted
// in every pod at the file the configuration names, outside the checksums
// (a new plan is reloaded, not rolled out).
func TestTrackingPlan(t *testing.T) {
	const plan = "enforcement:\n  default: flag\nevents:\n  - name: purchase_completed\n    owner: payments\n"
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderObjects(t, vs.files, map[string]any{"trackingPlan": plan})
			checkReferences(t, objs)
			cm := one[*corev1.ConfigMap](t, objs, "actlog-config-plan")
			if cm.Data["tracking-plan.yaml"] != plan {
				t.Errorf("plan ConfigMap holds %q", cm.Data["tracking-plan.yaml"])
			}
			cfg := parseConfig(t, "ConfigMap actlog-config", one[*corev1.ConfigMap](t, objs, "actlog-config").Data["actlog.yaml"])
			if cfg.TrackingPlan.File != "/etc/actlog/plan/tracking-plan.yaml" {
				t.Errorf("tracking_plan.file = %q", cfg.TrackingPlan.File)
			}
			for wl, tpl := range podTemplates(objs) {
				mounted := false
				for _, m := range tpl.Spec.Containers[0].VolumeMounts {
					mounted = mounted || (m.Name == "tracking-plan" && m.MountPath+"/tracking-plan.yaml" == cfg.TrackingPlan.File && m.SubPath == "")
				}
				if !mounted {
					t.Errorf("%s does not mount the plan at %s (without subPath, so that updates arrive)", wl, cfg.TrackingPlan.File)
				}
			}
			edited := renderObjects(t, vs.files, map[string]any{"trackingPlan": strings.Replace(plan, "flag", "reject", 1)})
			a, b := podTemplates(objs), podTemplates(edited)
			for wl := range a {
				if !maps.Equal(a[wl].Annotations, b[wl].Annotations) {
					t.Errorf("%s: editing the plan changes the pod's annotations: it would restart the pods", wl)
				}
			}
			without := renderObjects(t, vs.files, nil)
			if has[*corev1.ConfigMap](without, "actlog-config-plan") {
				t.Error("a plan ConfigMap without a plan")
			}
		})
	}
}

// TestStoreSizing checks that DuckDB's memory_limit and threads follow the
// store container's limits, and that an explicit setting wins.
func TestStoreSizing(t *testing.T) {
	cases := []struct {
		name               string
		extra              map[string]any
		wantMem            string
		wantThreads        int
		embedded, explicit bool
	}{
		{"defaults", nil, "3865MB", 2, false, false}, // 60% of 6 GiB
		{"8Gi and 4 cores", map[string]any{"process": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "8Gi", "cpu": "4000m"}}}}, "5153MB", 4, false, false},
		{"explicit", map[string]any{"config": map[string]any{"store": map[string]any{"memory_limit": "2GB", "threads": 3}}}, "2GB", 3, false, true},
		{"embedded", map[string]any{"mode": "embedded", "serve": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "4G", "cpu": "1500m"}}}}, "2400MB", 1, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := configOf(t, renderObjects(t, nil, c.extra))
			if cfg.Store.MemoryLimit != c.wantMem || cfg.Store.Threads != c.wantThreads {
				t.Errorf("store.memory_limit %q threads %d, want %q and %d", cfg.Store.MemoryLimit, cfg.Store.Threads, c.wantMem, c.wantThreads)
			}
		})
	}
}

// ---------------------------------------------------------------- rendering

// object is one rendered Kubernetes object, decoded into its API type.
type object struct {
	source string // template file
	kind   string
	name   string
	obj    any
}

// kinds maps each kind the chart may render to its apiVersion and API type.
var kinds = map[string]struct {
	apiVersion string
	new        func() any
}{
	"ConfigMap":               {"v1", func() any { return &corev1.ConfigMap{} }},
	"Secret":                  {"v1", func() any { return &corev1.Secret{} }},
	"Service":                 {"v1", func() any { return &corev1.Service{} }},
	"ServiceAccount":          {"v1", func() any { return &corev1.ServiceAccount{} }},
	"Deployment":              {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"StatefulSet":             {"apps/v1", func() any { return &appsv1.StatefulSet{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	"PodDisruptionBudget":     {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"Ingress":                 {"networking.k8s.io/v1", func() any { return &networkingv1.Ingress{} }},
	"ServiceMonitor":          {"monitoring.coreos.com/v1", func() any { return &serviceMonitor{} }},
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the chart uses; a field outside it fails
// the strict decoding, so a typo cannot pass.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// render renders the chart as `helm install actlog deploy/helm/actlog -f
// files... --set extra` would (values merged the way helm merges -f files),
// and returns the rendered files by template name.
func render(t *testing.T, files []string, extra map[string]any) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	if !chartutil.IsCompatibleRange(chrt.Metadata.KubeVersion, kubeVersion) {
		t.Fatalf("chart's kubeVersion %q excludes %s", chrt.Metadata.KubeVersion, kubeVersion)
	}
	vals := readValues(t, files)
	if extra != nil {
		// Through YAML, so that numbers are typed as in a values file.
		b, err := sigsyaml.Marshal(extra)
		if err != nil {
			t.Fatal(err)
		}
		v, err := chartutil.ReadValues(b)
		if err != nil {
			t.Fatal(err)
		}
		vals = mergeMaps(vals, v)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: kubeVersion, Major: "1", Minor: "30"}
	rv, err := chartutil.ToRenderValues(chrt, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	return engine.Render(chrt, rv)
}

// readValues reads values files from the chart's directory and merges them
// in order, as `helm install -f a.yaml -f b.yaml` does.
func readValues(t *testing.T, files []string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		vals = mergeMaps(vals, v)
	}
	return vals
}

// mergeMaps merges b into a as helm merges -f files: maps deeply, anything
// else replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// renderObjects renders the chart and decodes every object strictly; any
// failure ends the test.
func renderObjects(t *testing.T, files []string, extra map[string]any) []object {
	t.Helper()
	out, err := render(t, files, extra)
	if err != nil {
		t.Fatalf("render with %v %v: %v", files, extra, err)
	}
	var objs []object
	for _, name := range slices.Sorted(maps.Keys(out)) {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			if base == "NOTES.txt" && !strings.Contains(out[name], "admin token") {
				t.Errorf("NOTES.txt does not tell how to get the admin token:\n%s", out[name])
			}
			continue
		}
		for i, doc := range docSeparator.Split(out[name], -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			objs = append(objs, decodeStrict(t, fmt.Sprintf("%s#%d", name, i), []byte(doc)))
		}
	}
	if len(objs) == 0 {
		t.Fatal("the chart rendered no object")
	}
	if os.Getenv("ACTLOG_HELM_DUMP") != "" {
		for _, name := range slices.Sorted(maps.Keys(out)) {
			t.Logf("--- %s\n%s", name, out[name])
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// decodeStrict decodes one YAML document into the API type of its kind,
// refusing unknown fields, fields in the wrong case and duplicate keys.
func decodeStrict(t *testing.T, source string, doc []byte) object {
	t.Helper()
	js, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: not valid YAML: %v\n%s", source, err, doc)
	}
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := k8sjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	k, ok := kinds[tm.Kind]
	if !ok {
		t.Fatalf("%s: kind %q is not one this test knows: add it to kinds", source, tm.Kind)
	}
	if tm.APIVersion != k.apiVersion {
		t.Errorf("%s: %s has apiVersion %q, want %q", source, tm.Kind, tm.APIVersion, k.apiVersion)
	}
	obj := k.new()
	strictErrs, err := k8sjson.UnmarshalStrict(js, obj, k8sjson.DisallowUnknownFields, k8sjson.DisallowDuplicateFields)
	if err != nil {
		t.Fatalf("%s: %s %s does not decode: %v", source, tm.Kind, tm.Metadata.Name, err)
	}
	for _, e := range strictErrs {
		t.Errorf("%s: %s %s: %v", source, tm.Kind, tm.Metadata.Name, e)
	}
	if tm.Metadata.Name == "" {
		t.Errorf("%s: %s without a name", source, tm.Kind)
	}
	return object{source: source, kind: tm.Kind, name: tm.Metadata.Name, obj: obj}
}

// all returns the rendered objects of type T.
func all[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the object of type T with that name, or ends the test.
func one[T any](t *testing.T, objs []object, name string) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && o.name == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q rendered; have %v", zero, name, names(objs))
	return zero
}

func has[T any](objs []object, name string) bool {
	for _, o := range objs {
		if _, ok := o.obj.(T); ok && o.name == name {
			return true
		}
	}
	return false
}

func names(objs []object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.kind+"/"+o.name)
	}
	sort.Strings(out)
	return out
}

// ------------------------------------------------------------------- checks

// checkNames: names and labels the API server accepts, and no two objects of
// one kind with the same name.
func checkNames(t *testing.T, objs []object) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.kind + "/" + o.name
		if seen[key] {
			t.Errorf("%s rendered twice", key)
		}
		seen[key] = true
		var errs []string
		if o.kind == "Service" {
			errs = validation.IsDNS1035Label(o.name)
		} else {
			errs = validation.IsDNS1123Subdomain(o.name)
		}
		for _, e := range errs {
			t.Errorf("%s: name: %s", key, e)
		}
		if m, ok := o.obj.(metav1.Object); ok {
			for k, v := range m.GetLabels() {
				for _, e := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
					t.Errorf("%s: label %s=%s: %s", key, k, v, e)
				}
			}
			if m.GetLabels()["app.kubernetes.io/instance"] != release {
				t.Errorf("%s: no app.kubernetes.io/instance label", key)
			}
		}
	}
}

// podTemplates returns the pod templates of the rendered workloads by name.
func podTemplates(objs []object) map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, d := range all[*appsv1.Deployment](objs) {
		out["Deployment/"+d.Name] = &d.Spec.Template
	}
	for _, s := range all[*appsv1.StatefulSet](objs) {
		out["StatefulSet/"+s.Name] = &s.Spec.Template
	}
	return out
}

// checkReferences: every name one object gives another resolves to a
// rendered object (or to the existing Secret the values name), and
// selectors select.
func checkReferences(t *testing.T, objs []object) {
	t.Helper()
	secrets := map[string]*corev1.Secret{}
	for _, s := range all[*corev1.Secret](objs) {
		secrets[s.Name] = s
	}
	configMaps := map[string]*corev1.ConfigMap{}
	for _, c := range all[*corev1.ConfigMap](objs) {
		configMaps[c.Name] = c
	}
	// A Secret the chart does not render must be an existing one, named
	// in the values; only the msk-scram overlay does that.
	existing := func(name string) bool {
		return name == "actlog-secrets" && !has[*corev1.Secret](objs, "actlog-secrets")
	}

	for wl, tpl := range podTemplates(objs) {
		spec := tpl.Spec
		if sa := spec.ServiceAccountName; sa != "" && !has[*corev1.ServiceAccount](objs, sa) {
			t.Errorf("%s: ServiceAccount %q not rendered", wl, sa)
		}
		for _, v := range spec.Volumes {
			switch {
			case v.Secret != nil:
				s, ok := secrets[v.Secret.SecretName]
				if !ok {
					t.Errorf("%s: volume %s: Secret %q not rendered", wl, v.Name, v.Secret.SecretName)
					continue
				}
				for _, it := range v.Secret.Items {
					if _, ok := s.StringData[it.Key]; !ok {
						if _, ok := s.Data[it.Key]; !ok {
							t.Errorf("%s: volume %s: Secret %s has no key %s", wl, v.Name, s.Name, it.Key)
						}
					}
				}
			case v.ConfigMap != nil:
				c, ok := configMaps[v.ConfigMap.Name]
				if !ok {
					t.Errorf("%s: volume %s: ConfigMap %q not rendered", wl, v.Name, v.ConfigMap.Name)
					continue
				}
				for _, it := range v.ConfigMap.Items {
					if _, ok := c.Data[it.Key]; !ok {
						t.Errorf("%s: volume %s: ConfigMap %s has no key %s", wl, v.Name, c.Name, it.Key)
					}
				}
			}
		}
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				s, ok := secrets[ref.Name]
				switch {
				case !ok && !existing(ref.Name):
					t.Errorf("%s: env %s: Secret %q neither rendered nor existing", wl, e.Name, ref.Name)
				case ok:
					if _, ok := s.Data[ref.Key]; !ok {
						t.Errorf("%s: env %s: Secret %s has no key %s", wl, e.Name, s.Name, ref.Key)
					}
				}
			}
		}
	}

	selects := func(sel *metav1.LabelSelector) []string {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Errorf("selector %v: %v", sel, err)
			return nil
		}
		var out []string
		for wl, tpl := range podTemplates(objs) {
			if !s.Empty() && s.Matches(labels.Set(tpl.Labels)) {
				out = append(out, wl)
			}
		}
		return out
	}
	for _, d := range all[*appsv1.Deployment](objs) {
		if got := selects(d.Spec.Selector); !slices.Contains(got, "Deployment/"+d.Name) {
			t.Errorf("Deployment %s: its selector does not match its pods", d.Name)
		}
	}
	for _, s := range all[*appsv1.StatefulSet](objs) {
		if got := selects(s.Spec.Selector); !slices.Contains(got, "StatefulSet/"+s.Name) {
			t.Errorf("StatefulSet %s: its selector does not match its pods", s.Name)
		}
		if !has[*corev1.Service](objs, s.Spec.ServiceName) {
			t.Errorf("StatefulSet %s: serviceName %q not rendered", s.Name, s.Spec.ServiceName)
		}
	}
	for _, s := range all[*corev1.Service](objs) {
		if got := selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}); len(got) != 1 {
			t.Errorf("Service %s selects %v, want one workload", s.Name, got)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.String() != "http" {
				t.Errorf("Service %s: targetPort %s, want the container port named http", s.Name, p.TargetPort.String())
			}
		}
	}
	for _, p := range all[*policyv1.PodDisruptionBudget](objs) {
		if got := selects(p.Spec.Selector); len(got) != 1 {
			t.Errorf("PodDisruptionBudget %s selects %v, want one workload", p.Name, got)
		}
	}
	for _, h := range all[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !has[*appsv1.Deployment](objs, ref.Name) {
			t.Errorf("HPA %s scales %s %s %s, not a rendered Deployment", h.Name, ref.APIVersion, ref.Kind, ref.Name)
		}
	}
	for _, in := range all[*networkingv1.Ingress](objs) {
		for _, r := range in.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				svc := p.Backend.Service
				if svc == nil {
					t.Errorf("Ingress %s: a path without a Service backend", in.Name)
					continue
				}
				s := one[*corev1.Service](t, objs, svc.Name)
				if !slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Port == svc.Port.Number }) {
					t.Errorf("Ingress %s: Service %s has no port %d", in.Name, svc.Name, svc.Port.Number)
				}
			}
		}
	}
	for _, sm := range all[*serviceMonitor](objs) {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range all[*corev1.Service](objs) {
			if sel.Matches(labels.Set(s.Labels)) {
				got = append(got, s.Name)
			}
		}
		if len(got) == 0 || slices.ContainsFunc(got, func(n string) bool { return strings.HasSuffix(n, "-headless") }) {
			t.Errorf("ServiceMonitor %s selects %v: want the Services, not the headless ones", sm.Name, got)
		}
		for _, e := range sm.Spec.Endpoints {
			if e.Port != "http" || e.Path != "/metrics" {
				t.Errorf("ServiceMonitor %s scrapes port %q path %q, want http and /metrics", sm.Name, e.Port, e.Path)
			}
		}
	}
}

// checkWorkloads: every actlog container has its probes, resources and
// security context; every pod can stop gracefully.
func checkWorkloads(t *testing.T, objs []object) {
	t.Helper()
	tpls := podTemplates(objs)
	if len(tpls) == 0 {
		t.Fatal("no workload rendered")
	}
	for wl, tpl := range tpls {
		spec := tpl.Spec
		psc := spec.SecurityContext
		if psc == nil {
			t.Errorf("%s: no pod securityContext", wl)
			psc = &corev1.PodSecurityContext{}
		}
		if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != nonRoot {
			t.Errorf("%s: pod securityContext runAsNonRoot %v runAsUser %v, want true and %d", wl, psc.RunAsNonRoot, psc.RunAsUser, nonRoot)
		}
		if psc.FSGroup == nil || *psc.FSGroup != nonRoot {
			t.Errorf("%s: pod fsGroup %v, want %d (the data volume must be writable by actlog)", wl, psc.FSGroup, nonRoot)
		}
		if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod seccompProfile %v, want RuntimeDefault", wl, psc.SeccompProfile)
		}
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
			t.Errorf("%s: terminationGracePeriodSeconds %v, want at least 30", wl, g)
		}
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks should be false (Services named actlog-* would add ACTLOG_* variables)", wl)
		}
		if len(spec.InitContainers) != 0 {
			t.Errorf("%s: init containers are not expected", wl)
		}
		for _, c := range spec.Containers {
			where := wl + " container " + c.Name
			checkProbes(t, where, c, strings.HasPrefix(wl, "StatefulSet/"))
			checkResources(t, where, c.Resources)
			checkContainerSecurity(t, where, c.SecurityContext)
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds <= 0 {
				t.Errorf("%s: no preStop sleep (the load balancer must deregister the pod before it drains)", where)
			} else if g := spec.TerminationGracePeriodSeconds; g != nil && *g < c.Lifecycle.PreStop.Sleep.Seconds+30 {
				t.Errorf("%s: terminationGracePeriodSeconds %d leaves less than 30 s after the preStop sleep of %d s", where, *g, c.Lifecycle.PreStop.Sleep.Seconds)
			}
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
				t.Errorf("%s: no port http 8080", where)
			}
			if len(c.Args) < 3 || c.Args[1] != "--config" || c.Args[2] != "/etc/actlog/actlog.yaml" {
				t.Errorf("%s: args %v, want ROLE --config /etc/actlog/actlog.yaml", where, c.Args)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/etc/actlog" && m.ReadOnly }) {
				t.Errorf("%s: the configuration is not mounted read-only at /etc/actlog", where)
			}
			if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
				return e.Name == "ACTLOG_ADMIN_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
			}) {
				t.Errorf("%s: ACTLOG_ADMIN_TOKEN does not come from a Secret", where)
			}
			// The image's own ACTLOG_LISTEN and ACTLOG_DATA_DIR win over the
			// file: the pod must set them to what the file says.
			for name, want := range map[string]string{"ACTLOG_LISTEN": "0.0.0.0:8080", "ACTLOG_DATA_DIR": "/data"} {
				if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name && e.Value == want }) {
					t.Errorf("%s: %s is not set to %s", where, name, want)
				}
			}
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "ACTLOG_") && e.Value != "" && (strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "PASSWORD")) {
					t.Errorf("%s: %s given in clear", where, e.Name)
				}
			}
		}
	}
}

func checkProbes(t *testing.T, where string, c corev1.Container, store bool) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"startup", c.StartupProbe, "/healthz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", where, p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s: %s probe on %s port %s, want %s on http", where, p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
		if p.probe.PeriodSeconds <= 0 || p.probe.FailureThreshold <= 0 || p.probe.TimeoutSeconds <= 0 {
			t.Errorf("%s: %s probe without period, timeout and failure threshold", where, p.name)
		}
	}
	// actlog opens the store before it listens: a large store takes minutes.
	if s := c.StartupProbe; store && s != nil && s.PeriodSeconds*s.FailureThreshold < 300 {
		t.Errorf("%s: the startup probe allows %d s, want at least 5 minutes to open a large store", where, s.PeriodSeconds*s.FailureThreshold)
	}
}

func checkResources(t *testing.T, where string, r corev1.ResourceRequirements) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || req.IsZero() {
			t.Errorf("%s: no %s request", where, name)
		}
		if !okLim || lim.IsZero() {
			t.Errorf("%s: no %s limit", where, name)
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			t.Errorf("%s: %s request %s above its limit %s", where, name, req.String(), lim.String())
		}
	}
	if m, ok := r.Limits[corev1.ResourceMemory]; ok && m.Cmp(resource.MustParse("256Mi")) < 0 {
		t.Errorf("%s: memory limit %s is below what actlog needs", where, m.String())
	}
}

func checkContainerSecurity(t *testing.T, where string, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != nonRoot {
		t.Errorf("%s: runAsNonRoot %v runAsUser %v, want true and %d", where, sc.RunAsNonRoot, sc.RunAsUser, nonRoot)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem is not true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if isTrue(sc.Privileged) {
		t.Errorf("%s: privileged", where)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities %v, want drop ALL and nothing added", where, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile %v, want RuntimeDefault", where, sc.SeccompProfile)
	}
}

// checkStore: the store StatefulSet of one replica, its claim mounted at /data.
func checkStore(t *testing.T, objs []object, name, role string) {
	t.Helper()
	s := one[*appsv1.StatefulSet](t, objs, name)
	if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
		t.Errorf("%s: replicas %v, want 1 (one store)", name, s.Spec.Replicas)
	}
	if len(s.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%s: %d volumeClaimTemplates, want 1", name, len(s.Spec.VolumeClaimTemplates))
	}
	pvc := s.Spec.VolumeClaimTemplates[0]
	if size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; size.Cmp(resource.MustParse("10Gi")) < 0 {
		t.Errorf("%s: claim of %s, want at least 10Gi", name, size.String())
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "gp3" {
		t.Errorf("%s: storageClassName %v, want gp3", name, pvc.Spec.StorageClassName)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
		t.Errorf("%s: access modes %v, want ReadWriteOnce", name, pvc.Spec.AccessModes)
	}
	if p := s.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("%s: the store's volume is not retained when the StatefulSet is deleted: %v", name, p)
	}
	c := s.Spec.Template.Spec.Containers[0]
	if c.Args[0] != role {
		t.Errorf("%s: runs actlog %s, want %s", name, c.Args[0], role)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == pvc.Name && m.MountPath == "/data" && !m.ReadOnly }) {
		t.Errorf("%s: claim %s is not mounted writable at /data", name, pvc.Name)
	}
	if !has[*corev1.Service](objs, name) || !has[*corev1.Service](objs, name+"-headless") {
		t.Errorf("%s: want a Service and a headless Service", name)
	} else if h := one[*corev1.Service](t, objs, name+"-headless"); h.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("%s-headless: clusterIP %q, want None", name, h.Spec.ClusterIP)
	}
}

func checkKafkaMode(t *testing.T, objs []object) {
	t.Helper()
	d := one[*appsv1.Deployment](t, objs, "actlog-ingest")
	if d.Spec.Replicas != nil {
		t.Errorf("ingest: replicas %d set while the HPA scales it", *d.Spec.Replicas)
	}
	if c := d.Spec.Template.Spec.Containers[0]; c.Args[0] != "ingest" {
		t.Errorf("ingest: runs actlog %s", c.Args[0])
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("ingest: a rolling update may take replicas away before new ones are ready: %v", ru)
	}
	h := one[*autoscalingv2.HorizontalPodAutoscaler](t, objs, "actlog-ingest")
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 4 {
		t.Errorf("HPA: %v..%d replicas, want 2..4", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU ||
		h.Spec.Metrics[0].Resource.Target.AverageUtilization == nil || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("HPA: metrics %+v, want CPU at 70%%", h.Spec.Metrics)
	}
	p := one[*policyv1.PodDisruptionBudget](t, objs, "actlog-ingest")
	if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB: minAvailable %v, want 1", p.Spec.MinAvailable)
	}
	one[*corev1.Service](t, objs, "actlog-ingest")
	checkStore(t, objs, "actlog-process", "process")
	if has[*appsv1.StatefulSet](objs, "actlog-serve") {
		t.Error("Kafka mode renders an embedded serve StatefulSet")
	}
}

func checkEmbeddedMode(t *testing.T, objs []object) {
	t.Helper()
	for _, o := range objs {
		if o.kind == "HorizontalPodAutoscaler" || o.kind == "Deployment" || o.kind == "PodDisruptionBudget" || strings.Contains(o.name, "ingest") || strings.Contains(o.name, "process") {
			t.Errorf("embedded mode renders %s/%s", o.kind, o.name)
		}
	}
	if n := len(all[*appsv1.StatefulSet](objs)); n != 1 {
		t.Errorf("embedded mode renders %d StatefulSets, want 1", n)
	}
	checkStore(t, objs, "actlog-serve", "serve")
}

func checkMSKIAM(t *testing.T, objs []object) {
	t.Helper()
	sa := one[*corev1.ServiceAccount](t, objs, "actlog")
	if arn := sa.Annotations["eks.amazonaws.com/role-arn"]; !strings.HasPrefix(arn, "arn:aws:iam::") {
		t.Errorf("ServiceAccount: IRSA role annotation %q", arn)
	}
	for wl, tpl := range podTemplates(objs) {
		if tpl.Spec.ServiceAccountName != sa.Name {
			t.Errorf("%s: service account %q, want %s (IRSA)", wl, tpl.Spec.ServiceAccountName, sa.Name)
		}
		for _, e := range tpl.Spec.Containers[0].Env {
			if e.Name == "ACTLOG_KAFKA_SASL_PASSWORD" {
				t.Errorf("%s: a SASL password with IAM authentication", wl)
			}
		}
	}
	cfg := configOf(t, objs)
	if !cfg.Kafka.TLS.Enabled || cfg.Kafka.SASL.Mechanism != "aws-msk-iam" {
		t.Errorf("kafka tls %v sasl %q, want TLS and aws-msk-iam", cfg.Kafka.TLS.Enabled, cfg.Kafka.SASL.Mechanism)
	}
	for _, b := range cfg.Kafka.Brokers {
		if !strings.HasSuffix(b, ":9098") {
			t.Errorf("broker %s: MSK IAM listens on 9098", b)
		}
	}
	in := one[*networkingv1.Ingress](t, objs, "actlog-ingest")
	if in.Spec.IngressClassName == nil || *in.Spec.IngressClassName != "alb" {
		t.Errorf("Ingress: class %v, want alb", in.Spec.IngressClassName)
	}
	for k, want := range map[string]string{
		"alb.ingress.kubernetes.io/scheme":           "internet-facing",
		"alb.ingress.kubernetes.io/target-type":      "ip",
		"alb.ingress.kubernetes.io/healthcheck-path": "/readyz",
		"alb.ingress.kubernetes.io/listen-ports":     `[{"HTTP": 80}, {"HTTPS": 443}]`,
		"alb.ingress.kubernetes.io/ssl-redirect":     "443",
	} {
		if got := in.Annotations[k]; got != want {
			t.Errorf("Ingress annotation %s = %q, want %q", k, got, want)
		}
	}
}

func checkMSKSCRAM(t *testing.T, objs []object) {
	t.Helper()
	if has[*corev1.Secret](objs, "actlog-secrets") {
		t.Error("the chart renders the Secret that values-msk-scram.yaml says exists")
	}
	for wl, tpl := range podTemplates(objs) {
		c := tpl.Spec.Containers[0]
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "ACTLOG_KAFKA_SASL_PASSWORD" })
		if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef == nil ||
			c.Env[i].ValueFrom.SecretKeyRef.Name != "actlog-secrets" || c.Env[i].ValueFrom.SecretKeyRef.Key != "kafka-sasl-password" {
			t.Errorf("%s: ACTLOG_KAFKA_SASL_PASSWORD does not come from actlog-secrets/kafka-sasl-password", wl)
		}
	}
	cfg := configOf(t, objs)
	if !cfg.Kafka.TLS.Enabled || cfg.Kafka.SASL.Mechanism != "scram-sha-512" || cfg.Kafka.SASL.Username == "" {
		t.Errorf("kafka tls %v sasl %q user %q, want TLS, scram-sha-512 and a user", cfg.Kafka.TLS.Enabled, cfg.Kafka.SASL.Mechanism, cfg.Kafka.SASL.Username)
	}
	if len(all[*serviceMonitor](objs)) != 1 {
		t.Error("values-msk-scram.yaml enables the ServiceMonitor, none rendered")
	}
}

// ------------------------------------------------------- the configuration

// Config is actlog's configuration file as docs/configuration.md documents
// it. It is decoded with unknown keys refused, as actlog itself does.
type Config struct {
	Listen     string `yaml:"listen"`
	DataDir    string `yaml:"data_dir"`
	AdminToken string `yaml:"admin_token"`
	Log        struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Sources []struct {
		Name           string   `yaml:"name"`
		WriteKey       string   `yaml:"write_key"`
		AllowedOrigins []string `yaml:"allowed_origins"`
		RateLimit      float64  `yaml:"rate_limit"`
		RateBurst      int      `yaml:"rate_burst"`
	} `yaml:"sources"`
	Ingest struct {
		MaxRequestBytes int64    `yaml:"max_request_bytes"`
		MaxEventBytes   int      `yaml:"max_event_bytes"`
		MaxBatchEvents  int      `yaml:"max_batch_events"`
		MaxEventName    int      `yaml:"max_event_name"`
		CommitTimeout   duration `yaml:"commit_timeout"`
		MaxInFlight     int      `yaml:"max_in_flight"`
		RetryAfter      duration `yaml:"retry_after"`
		RateLimit       float64  `yaml:"rate_limit"`
		RateBurst       int      `yaml:"rate_burst"`
		TrustedProxies  []string `yaml:"trusted_proxies"`
		KeepIP          bool     `yaml:"keep_ip"`
		IP              string   `yaml:"ip"`
		IPSaltSecret    string   `yaml:"ip_salt_secret"`
		IPSaltRotation  duration `yaml:"ip_salt_rotation"`
		MaxFuture       duration `yaml:"max_future"`
		MaxPast         duration `yaml:"max_past"`
	} `yaml:"ingest"`
	Store struct {
		DedupeWindow       duration `yaml:"dedupe_window"`
		DedupeMaxIDs       int      `yaml:"dedupe_max_ids"`
		SessionTimeout     duration `yaml:"session_timeout"`
		CheckpointInterval duration `yaml:"checkpoint_interval"`
		MemoryLimit        string   `yaml:"memory_limit"`
		Threads            int      `yaml:"threads"`
	} `yaml:"store"`
	SQL struct {
		MaxRows int      `yaml:"max_rows"`
		Timeout duration `yaml:"timeout"`
	} `yaml:"sql"`
	HTTP struct {
		ReadHeaderTimeout duration `yaml:"read_header_timeout"`
		ReadTimeout       duration `yaml:"read_timeout"`
		WriteTimeout      duration `yaml:"write_timeout"`
		IdleTimeout       duration `yaml:"idle_timeout"`
		ShutdownTimeout   duration `yaml:"shutdown_timeout"`
		MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	} `yaml:"http"`
	Tracker struct {
		AltPath string `yaml:"alt_path"`
	} `yaml:"tracker"`
	TrackingPlan struct {
		File           string   `yaml:"file"`
		ReloadInterval duration `yaml:"reload_interval"`
	} `yaml:"tracking_plan"`
	Retention struct {
		Days  int      `yaml:"days"`
		Every duration `yaml:"every"`
	} `yaml:"retention"`
	Lake struct {
		Dir string `yaml:"dir"`
		S3  struct {
			Bucket          string `yaml:"bucket"`
			Prefix          string `yaml:"prefix"`
			Region          string `yaml:"region"`
			Endpoint        string `yaml:"endpoint"`
			PathStyle       bool   `yaml:"path_style"`
			AccessKeyID     string `yaml:"access_key_id"`
			SecretAccessKey string `yaml:"secret_access_key"`
		} `yaml:"s3"`
		Every      duration `yaml:"every"`
		CloseAfter duration `yaml:"close_after"`
		Since      string   `yaml:"since"`
	} `yaml:"lake"`
	Kafka *struct {
		Brokers  []string `yaml:"brokers"`
		ClientID string   `yaml:"client_id"`
		TLS      struct {
			Enabled            bool   `yaml:"enabled"`
			CAFile             string `yaml:"ca_file"`
			ServerName         string `yaml:"server_name"`
			InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
		} `yaml:"tls"`
		SASL struct {
			Mechanism string `yaml:"mechanism"`
			Username  string `yaml:"username"`
			Password  string `yaml:"password"`
		} `yaml:"sasl"`
		Topics struct {
			Events      string   `yaml:"events"`
			Rejected    string   `yaml:"rejected"`
			Create      bool     `yaml:"create"`
			Partitions  int      `yaml:"partitions"`
			Replication int      `yaml:"replication"`
			Retention   duration `yaml:"retention"`
		} `yaml:"topics"`
		Producer struct {
			Compression        string   `yaml:"compression"`
			Linger             duration `yaml:"linger"`
			MaxBufferedRecords int      `yaml:"max_buffered_records"`
			BatchMaxBytes      int      `yaml:"batch_max_bytes"`
		} `yaml:"producer"`
		Consumer struct {
			Group                  string   `yaml:"group"`
			MaxPollRecords         int      `yaml:"max_poll_records"`
			FetchMaxWait           duration `yaml:"fetch_max_wait"`
			FetchMaxBytes          int      `yaml:"fetch_max_bytes"`
			FetchMaxPartitionBytes int      `yaml:"fetch_max_partition_bytes"`
			SessionTimeout         duration `yaml:"session_timeout"`
			HeartbeatInterval      duration `yaml:"heartbeat_interval"`
			RebalanceTimeout       duration `yaml:"rebalance_timeout"`
		} `yaml:"consumer"`
	} `yaml:"kafka"`
}

// duration refuses what actlog refuses: a duration is written like 2s or
// 168h, never as a bare number.
type duration string

var durationRe = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`)

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || !durationRe.MatchString(n.Value) {
		return fmt.Errorf("line %d: %q is not a duration such as 2s or 30m", n.Line, n.Value)
	}
	*d = duration(n.Value)
	return nil
}

// parseConfig decodes an actlog.yaml strictly.
func parseConfig(t *testing.T, where, text string) Config {
	t.Helper()
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: actlog.yaml does not decode as actlog's configuration: %v\n%s", where, err, text)
	}
	return cfg
}

// configOf returns the ConfigMap's configuration.
func configOf(t *testing.T, objs []object) Config {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, objs, "actlog-config")
	return parseConfig(t, "ConfigMap actlog-config", cm.Data["actlog.yaml"])
}

// checkConfig: the ConfigMap's actlog.yaml is a valid configuration without
// secrets; the Secret's copy is the same plus the sources.
func checkConfig(t *testing.T, objs []object, mode string) {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, objs, "actlog-config")
	text := cm.Data["actlog.yaml"]
	var top map[string]any
	if err := yaml.Unmarshal([]byte(text), &top); err != nil {
		t.Fatalf("ConfigMap actlog.yaml: %v", err)
	}
	for _, k := range []string{"listen", "data_dir", "log", "ingest", "store", "sql", "http"} {
		if _, ok := top[k]; !ok {
			t.Errorf("ConfigMap actlog.yaml has no %s", k)
		}
	}
	cfg := parseConfig(t, "ConfigMap actlog-config", text)
	if cfg.Listen != "0.0.0.0:8080" || cfg.DataDir != "/data" {
		t.Errorf("listen %q data_dir %q, want 0.0.0.0:8080 and /data", cfg.Listen, cfg.DataDir)
	}
	if cfg.AdminToken != "" || len(cfg.Sources) != 0 || (cfg.Kafka != nil && cfg.Kafka.SASL.Password != "") {
		t.Error("the ConfigMap holds a secret (admin_token, sources or kafka.sasl.password)")
	}
	if !regexp.MustCompile(`^[0-9]+(MB|GB)$`).MatchString(cfg.Store.MemoryLimit) || cfg.Store.Threads < 1 {
		t.Errorf("store.memory_limit %q threads %d: want them set from the store's limits", cfg.Store.MemoryLimit, cfg.Store.Threads)
	}
	switch {
	case mode == "kafka" && (cfg.Kafka == nil || len(cfg.Kafka.Brokers) == 0):
		t.Error("Kafka mode without kafka.brokers")
	case mode == "embedded" && cfg.Kafka != nil:
		t.Error("embedded mode with a kafka section: serve would run through Kafka")
	}
	if cfg.HTTP.WriteTimeout != "" && cfg.HTTP.ShutdownTimeout == "" {
		t.Error("http.shutdown_timeout is not set")
	}

	s := one[*corev1.Secret](t, objs, "actlog-sources")
	withSources := s.StringData["actlog.yaml"]
	scfg := parseConfig(t, "Secret actlog-sources", withSources)
	if len(scfg.Sources) == 0 {
		t.Fatal("Secret actlog-sources: no sources")
	}
	for i, src := range scfg.Sources {
		if src.Name == "" || len(src.WriteKey) < 8 {
			t.Errorf("sources[%d]: name %q, write key of %d characters (actlog wants at least 8)", i, src.Name, len(src.WriteKey))
		}
	}
	scfg.Sources = nil
	if a, b := mustYAML(t, cfg), mustYAML(t, scfg); !bytes.Equal(a, b) {
		t.Errorf("the Secret's configuration differs from the ConfigMap's beyond the sources:\n%s\n---\n%s", a, b)
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

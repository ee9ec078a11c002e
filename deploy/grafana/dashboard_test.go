// Package grafana checks deploy/grafana/actlog.json against the metrics the
// docs say actlog exports, without a Grafana or a Prometheus:
//
//	cd deploy/grafana && go test ./...
package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	dashboardFile = "actlog.json"
	datasourceUID = "${DS_PROMETHEUS}"
)

// The docs that list actlog's metrics: operations.md has the full table,
// kafka.md the metrics of the Kafka tiers, api.md points at both.
var metricDocs = []string{"../../docs/operations.md", "../../docs/kafka.md", "../../docs/api.md"}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a collapsed row keeps its panels here
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or an object in newer models
	Definition string          `json:"definition"`
	Datasource *datasource     `json:"datasource"`
}

type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	SchemaVersion int     `json:"schemaVersion"`
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows: Grafana keeps a collapsed row's panels inside it.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var (
	metricName = regexp.MustCompile(`actlog_[a-z_]+`)
	// Series a histogram or summary exports besides its documented name.
	seriesSuffixes = []string{"_bucket", "_sum", "_count"}
)

// metricsIn returns the actlog metric names an expression uses: a
// histogram's series (_bucket, _sum, _count) count as the histogram when
// the name without the suffix is documented.
func metricsIn(expr string, documented func(string) bool) []string {
	var out []string
	for _, m := range metricName.FindAllString(expr, -1) {
		name := baseName(m, documented)
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func baseName(m string, documented func(string) bool) string {
	for _, suf := range seriesSuffixes {
		if base, ok := strings.CutSuffix(m, suf); ok && (documented(base) || !documented(m)) {
			return base
		}
	}
	return m
}

// docMetrics returns every actlog_* name the docs mention, by doc.
func docMetrics(t *testing.T) map[string][]string {
	t.Helper()
	return scanDocs(t, func(text string) []string { return metricName.FindAllString(text, -1) })
}

// tableMetrics returns the actlog_* names in the first column of the docs'
// tables: the metrics they list, not names mentioned in passing (an
// alert's _bucket series, a cookie).
func tableMetrics(t *testing.T) map[string][]string {
	t.Helper()
	return scanDocs(t, func(text string) []string {
		var out []string
		for _, line := range strings.Split(text, "\n") {
			cells := strings.Split(line, "|")
			if !strings.HasPrefix(strings.TrimSpace(line), "|") || len(cells) < 3 {
				continue
			}
			out = append(out, metricName.FindAllString(cells[1], -1)...)
		}
		return out
	})
}

func scanDocs(t *testing.T, names func(string) []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, doc := range metricDocs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatalf("read %s: %v", doc, err)
		}
		for _, m := range names(string(b)) {
			if !slices.Contains(out[m], filepath.Base(doc)) {
				out[m] = append(out[m], filepath.Base(doc))
			}
		}
	}
	return out
}

func TestDashboardMetricsAreDocumented(t *testing.T) {
	d := loadDashboard(t)
	docs := docMetrics(t)
	documented := func(name string) bool { return len(docs[name]) > 0 }
	checked := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, m := range metricsIn(tg.Expr, documented) {
				checked++
				if !documented(m) {
					t.Errorf("panel %d %q, target %s: %s is in none of %v", p.ID, p.Title, tg.RefID, m, metricDocs)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, m := range metricsIn(string(v.Query)+" "+v.Definition, documented) {
			checked++
			if !documented(m) {
				t.Errorf("variable %s: %s is in none of %v", v.Name, m, metricDocs)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no actlog_* metric found in the dashboard's queries")
	}
}

// TestDashboardCoversDocumentedMetrics fails when a metric listed in a
// docs table is shown by no panel: add a panel with the metric.
func TestDashboardCoversDocumentedMetrics(t *testing.T) {
	d := loadDashboard(t)
	docs := docMetrics(t)
	documented := func(name string) bool { return len(docs[name]) > 0 }
	used := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, m := range metricsIn(tg.Expr, documented) {
				used[m] = true
			}
		}
	}
	listed := tableMetrics(t)
	if len(listed) < 20 {
		t.Fatalf("found %d metrics in the docs' tables, want the full list (has a table moved?)", len(listed))
	}
	var missing []string
	for m, in := range listed {
		if !used[baseName(m, documented)] {
			missing = append(missing, fmt.Sprintf("%s (%s)", m, strings.Join(in, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented metrics that no panel shows:\n  %s", strings.Join(missing, "\n  "))
	}
}

func TestPanels(t *testing.T) {
	d := loadDashboard(t)
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			t.Errorf("%s: no id", name)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("%s: id %d is also %s's", name, p.ID, other)
		}
		ids[p.ID] = p.Title
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("%s: no title", name)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos %+v is off the 24-column grid", name, p.GridPos)
		}
		if p.Type == "row" {
			continue // a row holds panels; it has no query or unit
		}
		if p.Datasource == nil || p.Datasource.UID != datasourceUID || p.Datasource.Type != "prometheus" {
			t.Errorf("%s: datasource %+v, want prometheus %s", name, p.Datasource, datasourceUID)
		}
		if p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("%s: no unit (fieldConfig.defaults.unit)", name)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", name)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] {
				t.Errorf("%s: refId %s twice", name, tg.RefID)
			}
			refs[tg.RefID] = true
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s, target %s: empty expr", name, tg.RefID)
			}
			if tg.Datasource != nil && tg.Datasource.UID != datasourceUID {
				t.Errorf("%s, target %s: datasource %+v", name, tg.RefID, tg.Datasource)
			}
			// Every query follows the job and instance pickers, or the Go
			// runtime panels would mix in every other Go program scraped.
			for _, v := range []string{`job=~"$job"`, `instance=~"$instance"`} {
				if !strings.Contains(tg.Expr, v) {
					t.Errorf("%s, target %s: expr does not select %s", name, tg.RefID, v)
				}
			}
		}
	}
}

func TestLayoutHasNoOverlaps(t *testing.T) {
	d := loadDashboard(t)
	ps := allPanels(d.Panels)
	for i, a := range ps {
		for _, b := range ps[i+1:] {
			ag, bg := a.GridPos, b.GridPos
			if ag.X < bg.X+bg.W && bg.X < ag.X+ag.W && ag.Y < bg.Y+bg.H && bg.Y < ag.Y+ag.H {
				t.Errorf("panels %d %q and %d %q overlap", a.ID, a.Title, b.ID, b.Title)
			}
		}
	}
}

func TestDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 38 {
		t.Errorf("schemaVersion %d, want 38 or later (Grafana 10+)", d.SchemaVersion)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both are needed for provisioning and links", d.Title, d.UID)
	}
	input := false
	for _, in := range d.Inputs {
		if in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus" {
			input = true
		}
	}
	if !input {
		t.Error("no __inputs entry DS_PROMETHEUS (datasource, prometheus): importing would not ask for the data source")
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	// A datasource variable of the same name lets the file be provisioned
	// as is too (provisioning does not fill __inputs).
	if v, ok := vars["DS_PROMETHEUS"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("templating variable DS_PROMETHEUS: %+v, want a prometheus datasource variable", v)
	}
	for _, name := range []string{"job", "instance"} {
		v, ok := vars[name]
		if !ok {
			t.Errorf("no templating variable %s", name)
			continue
		}
		if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != datasourceUID {
			t.Errorf("variable %s: type %s, datasource %+v", name, v.Type, v.Datasource)
		}
	}
}

func TestMetricsIn(t *testing.T) {
	documented := func(n string) bool {
		return slices.Contains([]string{"actlog_a_seconds", "actlog_b_count", "actlog_c_total"}, n)
	}
	cases := map[string][]string{
		`histogram_quantile(0.9, sum by (le) (rate(actlog_a_seconds_bucket{job=~"$job"}[5m])))`: {"actlog_a_seconds"},
		`rate(actlog_a_seconds_sum[5m]) / rate(actlog_a_seconds_count[5m])`:                     {"actlog_a_seconds"},
		`actlog_b_count + actlog_c_total`:                                                       {"actlog_b_count", "actlog_c_total"},
		`sum(actlog_undocumented_count)`:                                                        {"actlog_undocumented"},
		`go_goroutines{job=~"$job"}`:                                                            nil,
	}
	for expr, want := range cases {
		if got := metricsIn(expr, documented); !slices.Equal(got, want) {
			t.Errorf("metricsIn(%s) = %v, want %v", expr, got, want)
		}
	}
}

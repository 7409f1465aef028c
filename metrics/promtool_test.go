package metrics

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// fullScrape is a scrape with every metric there is: every Source set, and
// records observed so that both histograms, the labelled counters and the
// Go runtime's pause metrics have samples other than 0.
func fullScrape(t testing.TB) []byte {
	t.Helper()
	m := New(allSources())
	records := []proxy.Record{
		rec("GET", 200, 2*time.Millisecond, 100, 1000),
		rec("POST", 502, 40*time.Second, 10, 10),
		rec("PROPFIND", 0, 0, 1, 0),
		rec("GET", 403, time.Millisecond, 10, 10),
		rec("GET", 407, time.Millisecond, 10, 10),
		rec("GET", 429, time.Millisecond, 10, 10),
		rec("CONNECT", 200, 90*time.Second, 7000, 9000),
	}
	records[1].Error = proxy.ErrUpstreamReset.Detail
	records[2].Error = "a detail \"nobody\" knows\n" // counts as other
	records[3].Error = policy.ErrDestinationDenied.Reason
	records[4].Error = policy.ErrAuthRequired.Reason
	records[5].Error = policy.ErrRateLimited.Reason
	records[6].Tunnel = true
	for i := range records {
		m.Observe(&records[i])
	}
	runtime.GC() // a pause for go_gc_duration_seconds and go_gc_pauses_seconds
	var buf bytes.Buffer
	m.WritePrometheus(&buf)
	return buf.Bytes()
}

// noSumFamilies are the histograms that have no _sum: the Go runtime's.
var noSumFamilies = map[string]bool{"go_sched_latencies_seconds": true, "go_gc_pauses_seconds": true}

// TestPromtool checks a full scrape with `promtool check metrics`, the
// Prometheus project's own parser and linter, and with the test's
// (promtext_test.go). promtool comes from Debian's prometheus package: the
// test installs it when it is missing and it can (root, apt-get, within
// minutes, not -short). When it cannot, the test's own checker runs alone;
// the log says which ran.
func TestPromtool(t *testing.T) {
	text := fullScrape(t)
	if fams, err := parseFamilies(bytes.NewReader(text)); err != nil {
		t.Errorf("test's checker: /metrics does not parse: %v", err)
	} else {
		for _, p := range lintFamilies(fams, noSumFamilies) {
			t.Errorf("test's checker: %s", p)
		}
	}

	path, why := promtool(t)
	if path == "" {
		t.Logf("checker: the test's own (promtext_test.go) only; promtool: %s", why)
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	version, _ := exec.Command(path, "--version").Output()
	first, _, _ := strings.Cut(string(version), "\n")
	t.Logf("checker: %s (%s) and the test's own (promtext_test.go)", path, first)
}

// promtool returns the path of promtool (Debian's prometheus package,
// installed when missing and possible), or "" and why there is none.
func promtool(t *testing.T) (path, why string) {
	return testtool.Find(t, "promtool", "prometheus")
}

// A full scrape has exactly the families of the table, each documented.
func TestScrapeFamilies(t *testing.T) {
	fams, err := parseFamilies(bytes.NewReader(fullScrape(t)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fams {
		got[f.name] = true
		if f.help == undocumentedHelp {
			t.Errorf("%s (%s) is not in families", f.name, f.typ)
		}
	}
	for _, f := range families {
		switch {
		case got[f.name]:
		case f.name == "process_pagefaults_total": // Windows only
		case strings.HasPrefix(f.name, "process_") && runtime.GOOS != "linux":
		default:
			t.Errorf("%s is in families, but not in a full scrape", f.name)
		}
	}
}

// The table is well-formed: valid types, unique names, and HELP texts that
// are sentences needing no escapes.
func TestFamiliesTable(t *testing.T) {
	names := map[string]bool{}
	for _, f := range families {
		if names[f.name] || names[f.src] && f.src != f.name {
			t.Errorf("%s: name used twice", f.name)
		}
		names[f.name], names[f.src] = true, true
		if !slices.Contains([]string{"counter", "gauge", "histogram", "summary"}, f.typ) {
			t.Errorf("%s: type %q", f.name, f.typ)
		}
		if f.countFromInf != noSumFamilies[f.name] || f.countFromInf && f.typ != "histogram" {
			t.Errorf("%s: countFromInf %v does not match noSumFamilies", f.name, f.countFromInf)
		}
		if strings.ContainsAny(f.help, "\\\n") {
			t.Errorf("%s: HELP needs escapes: %q", f.name, f.help)
		}
	}
	// One sample per family, in a scrape of its own, must lint clean.
	var raw bytes.Buffer
	for _, f := range families {
		switch f.typ {
		case "histogram":
			fmt.Fprintf(&raw, "%s_bucket{le=\"1\"} 1\n%s_bucket{le=\"+Inf\"} 2\n", f.src, f.src)
			if !f.countFromInf {
				fmt.Fprintf(&raw, "%s_sum 3\n%s_count 2\n", f.src, f.src)
			}
		case "summary":
			fmt.Fprintf(&raw, "%s{quantile=\"0.5\"} 1\n%s_sum 3\n%s_count 2\n", f.src, f.src, f.src)
		default:
			fmt.Fprintf(&raw, "%s 1\n", f.src)
		}
	}
	var out bytes.Buffer
	writeFamilies(&out, raw.Bytes())
	fams, err := parseFamilies(&out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lintFamilies(fams, noSumFamilies) {
		t.Error(p)
	}
}

func TestWriteFamilies(t *testing.T) {
	for _, tc := range []struct {
		name, raw, want string
	}{{
		name: "VictoriaMetrics' # lines dropped, ours written",
		raw:  "# HELP go_goroutines\n# TYPE go_goroutines gauge\ngo_goroutines 5\n",
		want: "# HELP go_goroutines Goroutines that exist now.\n# TYPE go_goroutines gauge\ngo_goroutines 5\n",
	}, {
		name: "samples of a family brought together, families in first-seen order",
		raw: "sluice_errors_total{detail=\"a\"} 1\ngo_threads 3\nsluice_errors_total{detail=\"b\"} 2\n" +
			"sluice_tunnel_duration_seconds_bucket{le=\"+Inf\"} 0\ngo_threads 4\n" +
			"sluice_tunnel_duration_seconds_sum 0\nsluice_tunnel_duration_seconds_count 0\n",
		want: "# HELP sluice_errors_total " + familyBySrc["sluice_errors_total"].help + "\n" +
			"# TYPE sluice_errors_total counter\n" +
			"sluice_errors_total{detail=\"a\"} 1\nsluice_errors_total{detail=\"b\"} 2\n" +
			"# HELP go_threads OS threads created by the Go runtime.\n# TYPE go_threads gauge\n" +
			"go_threads 3\ngo_threads 4\n" +
			"# HELP sluice_tunnel_duration_seconds Lifetime of CONNECT and Upgrade tunnels, in seconds.\n" +
			"# TYPE sluice_tunnel_duration_seconds histogram\n" +
			"sluice_tunnel_duration_seconds_bucket{le=\"+Inf\"} 0\n" +
			"sluice_tunnel_duration_seconds_sum 0\nsluice_tunnel_duration_seconds_count 0\n",
	}, {
		name: "renamed, and retyped",
		raw:  "go_cgo_calls_count 7\n# TYPE process_io_read_bytes_total gauge\nprocess_io_read_bytes_total 9\n",
		want: "# HELP go_cgo_calls_total Cgo calls made by the process (runtime.NumCgoCall).\n" +
			"# TYPE go_cgo_calls_total counter\ngo_cgo_calls_total 7\n" +
			"# HELP process_io_read_bytes_total " + familyBySrc["process_io_read_bytes_total"].help + "\n" +
			"# TYPE process_io_read_bytes_total counter\nprocess_io_read_bytes_total 9\n",
	}, {
		name: "a runtime histogram gets its _count",
		raw:  "go_gc_pauses_seconds_bucket{le=\"0.001\"} 3\ngo_gc_pauses_seconds_bucket{le=\"+Inf\"} 4\n",
		want: "# HELP go_gc_pauses_seconds " + familyBySrc["go_gc_pauses_seconds"].help + "\n" +
			"# TYPE go_gc_pauses_seconds histogram\n" +
			"go_gc_pauses_seconds_bucket{le=\"0.001\"} 3\ngo_gc_pauses_seconds_bucket{le=\"+Inf\"} 4\n" +
			"go_gc_pauses_seconds_count 4\n",
	}, {
		name: "undocumented families",
		raw:  "other_things_total 1\nother_level{x=\"y\"} 2\nother_things_total{a=\"b\"} 3\n",
		want: "# HELP other_things_total Not documented by sluice.\n# TYPE other_things_total counter\n" +
			"other_things_total 1\nother_things_total{a=\"b\"} 3\n" +
			"# HELP other_level Not documented by sluice.\n# TYPE other_level untyped\nother_level{x=\"y\"} 2\n",
	}, {
		name: "nothing",
		raw:  "\n# HELP x\n",
		want: "",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			writeFamilies(&out, []byte(tc.raw))
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}

// The test's own checker rejects what promtool rejects, so that it cannot
// pass a scrape by accepting anything.
func TestCheckerRejects(t *testing.T) {
	const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
	for _, tc := range []struct{ name, text string }{
		{"no HELP", "# TYPE a_total counter\na_total 1\n"},
		{"no TYPE", "# HELP a_total A.\na_total 1\n"},
		{"no metadata", "a_total 1\n"},
		{"TYPE before HELP", "# TYPE a_total counter\n# HELP a_total A.\na_total 1\n"},
		{"HELP away from TYPE", "# HELP a_total A.\n# HELP b B.\n# TYPE b gauge\nb 1\n# TYPE a_total counter\na_total 1\n"},
		{"two HELP", ok + "# HELP a_total A.\n"},
		{"family split", ok + "# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"y\"} 2\n"},
		{"family twice", ok + "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"y\"} 2\n"},
		{"sample of another family", "# HELP a_total A.\n# TYPE a_total counter\nb_total 1\n"},
		{"duplicate series", ok + "a_total 2\n"},
		{"no samples", "# HELP a_total A.\n# TYPE a_total counter\n"},
		{"blank line", ok + "\n"},
		{"other comment", "# hello\n" + ok},
		{"bad type", "# HELP a A.\n# TYPE a metric\na 1\n"},
		{"bad HELP escape", "# HELP a_total A\\t.\n# TYPE a_total counter\na_total 1\n"},
		{"bad label escape", "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"\\t\"} 1\n"},
		{"unterminated label", "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"y} 1\n"},
		{"colon in label name", "# HELP a_total A.\n# TYPE a_total counter\na_total{x:y=\"z\"} 1\n"},
		{"bad value", "# HELP a_total A.\n# TYPE a_total counter\na_total one\n"},
		{"two spaces", "# HELP a_total A.\n# TYPE a_total counter\na_total  1\n"},
		{"histogram sample named as the family", "# HELP h H.\n# TYPE h histogram\nh 1\n"},
	} {
		if _, err := parseFamilies(strings.NewReader(tc.text)); err == nil {
			t.Errorf("%s: parsed:\n%s", tc.name, tc.text)
		}
	}
	if _, err := parseFamilies(strings.NewReader(ok)); err != nil {
		t.Errorf("ok: %v", err)
	}

	for _, tc := range []struct{ name, text string }{
		{"empty HELP", "# HELP a_total \n# TYPE a_total counter\na_total 1\n"},
		{"HELP no sentence", "# HELP a_total a\n# TYPE a_total counter\na_total 1\n"},
		{"counter without _total", "# HELP a A.\n# TYPE a counter\na 1\n"},
		{"gauge with _total", "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n"},
		{"gauge with _count", "# HELP a_count A.\n# TYPE a_count gauge\na_count 1\n"},
		{"non-base unit", "# HELP a_milliseconds A.\n# TYPE a_milliseconds gauge\na_milliseconds 1\n"},
		{"abbreviated unit", "# HELP a_ms A.\n# TYPE a_ms gauge\na_ms 1\n"},
		{"type in name", "# HELP a_gauge A.\n# TYPE a_gauge gauge\na_gauge 1\n"},
		{"camelCase", "# HELP aB A.\n# TYPE aB gauge\naB 1\n"},
		{"camelCase label", "# HELP a A.\n# TYPE a gauge\na{aB=\"c\"} 1\n"},
		{"colon", "# HELP a:b A.\n# TYPE a:b gauge\na:b 1\n"},
		{"le on a gauge", "# HELP a A.\n# TYPE a gauge\na{le=\"1\"} 1\n"},
		{"negative counter", "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n"},
		{"histogram without +Inf", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"},
		{"histogram not cumulative", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
		{"histogram count", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n"},
		{"histogram without _count", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"},
		{"histogram without _sum", "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"},
		{"summary without _count", "# HELP s S.\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\n"},
		{"summary quantile", "# HELP s S.\n# TYPE s summary\ns{quantile=\"2\"} 1\ns_sum 1\ns_count 1\n"},
	} {
		fams, err := parseFamilies(strings.NewReader(tc.text))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(lintFamilies(fams, nil)) == 0 {
			t.Errorf("%s: no problem found in:\n%s", tc.name, tc.text)
		}
	}
}

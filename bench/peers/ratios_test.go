// Package peers holds the tests of bench/peers's scripts; the scripts
// themselves are shell.
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// header is run-peers.sh's TSV header (the columns ratios.sh reads by name).
const header = "peer\tpath\trequests\tduration_s\trps\tMiB_s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tmean_ms\t" +
	"err_connect\terr_read\terr_write\terr_status\terr_timeout\tproxy_cpu_s\tproxy_cpu_us_per_req\t" +
	"origin_cpu_us_per_req\twrk_cpu_s\tbox_busy_pct\tupstream_conns\tdns_queries\tdnsmasq_cpu_s\tconns\t" +
	"proxy_rss_mib\torigin_requests\tproxy_user_us_per_req\tproxy_sys_us_per_req\n"

// row is one TSV line: peer, path, req/s, MiB/s, CPU µs/req, conns, user, sys.
func row(peer, path, rps, mib, cpu, conns, user, sys string) string {
	f := []string{peer, path, "0", "5", rps, mib, "1", "1", "1", "1", "1", "0", "0", "0", "0", "0", "1",
		cpu, "1", "1", "90", "0", "0", "0", conns, "10", "0", user, sys}
	return strings.Join(f, "\t") + "\n"
}

func runRatios(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk")
	}
	out, err := exec.Command("bash", append([]string{"ratios.sh"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestRatios checks the per-round ratios and their medians, that a pair
// counts only in the rounds where both of its peers ran, that other paths
// and connection counts are left out, and that /big compares MiB/s.
func TestRatios(t *testing.T) {
	dir := t.TempDir()
	rounds := []string{
		row("a", "small", "100", "1", "10", "50", "2", "8") + row("b", "small", "200", "2", "5", "50", "1", "4") +
			row("a", "small", "999", "1", "1", "10", "1", "1") + row("a", "big", "1", "300", "1", "50", "1", "1") +
			row("b", "big", "1", "100", "1", "50", "1", "1"),
		row("a", "small", "150", "1", "12", "50", "3", "9") + row("b", "small", "100", "1", "6", "50", "1", "5"),
		row("a", "small", "120", "1", "11", "50", "2", "9") + row("b", "small", "120", "1", "11", "50", "1", "5"),
		row("a", "small", "100", "1", "10", "50", "2", "8") + row("c", "small", "50", "1", "10", "50", "1", "5"),
	}
	var files []string
	for i, r := range rounds {
		f := filepath.Join(dir, "round-"+string(rune('1'+i))+".tsv")
		if err := os.WriteFile(f, []byte(header+r), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out, err := runRatios(t, append([]string{"-r", "a/b a/c b/c"}, files...)...)
	if err != nil {
		t.Fatalf("ratios.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		// a/b in rounds 1-3: req/s 0.5, 1.5, 1.0 (median 1.00); CPU 2, 2, 1 (median 2.00).
		"| a/b | 1.00 | 2.00 | 3 | 0.50 1.50 1.00 |",
		"| a/c | 2.00 | 1.00 | 1 | 2.00 |",
		"| b/c | - | - | 0 | (never in the same round) |",
		// a over its 4 rounds: req/s 100 150 120 100 -> 110; CPU 10 12 11 10 -> 10.5.
		"| a | 4 | 110 | 10.5 | 2 | 8.5 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "999") {
		t.Errorf("the 10-connection row was counted:\n%s", out)
	}

	out, err = runRatios(t, "-p", "big", "-r", "a/b", files[0])
	if err != nil {
		t.Fatalf("ratios.sh -p big: %v\n%s", err, out)
	}
	if !strings.Contains(out, "| a/b | 3.00 | 1.00 | 1 | 3.00 |") {
		t.Errorf("big is not compared by MiB/s:\n%s", out)
	}
}

// TestRatiosRefuses checks that bad input is refused with a message naming
// it, before any table is printed.
func TestRatiosRefuses(t *testing.T) {
	dir := t.TempDir()
	notTSV := filepath.Join(dir, "rounds.md")
	if err := os.WriteFile(notTSV, []byte("# Peers comparison\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "round.tsv")
	if err := os.WriteFile(good, []byte(header+row("a", "small", "1", "1", "1", "50", "1", "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no TSV given"},
		{[]string{notTSV}, "is not a run-peers.sh TSV"},
		{[]string{filepath.Join(dir, "missing.tsv")}, "cannot read"},
		{[]string{"-c", "many", good}, "-c: want a connection count"},
		{[]string{"-r", "a", good}, "-r: want PEER/BASE"},
	} {
		out, err := runRatios(t, c.args...)
		if err == nil || !strings.Contains(out, c.want) || strings.Contains(out, "| ratio") {
			t.Errorf("ratios.sh %q: err %v, output %q; want a refusal with %q", c.args, err, out, c.want)
		}
	}
}

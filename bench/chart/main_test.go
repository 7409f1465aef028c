package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = "peer\tpath\trequests\trps\tp99_ms\tproxy_cpu_us_per_req\tconns\n" +
	"direct\tsmall\t1\t80000\t0.02\t-\t1\n" +
	"direct\tsmall\t1\t110000\t0.9\t-\t100\n" +
	"sluice\tsmall\t1\t25000\t0.2\t20.5\t1\n" +
	"sluice\tsmall\t1\t40000\t20\t12.0\t100\n" +
	"sluice\tsmall\t1\t44000\t24\t13.0\t100\n" + // repeated run: averaged
	"haproxy\tbig\t1\t900\t90\t450\t1\n"

func TestChartFromTSV(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "scaling-20260101-000000.tsv")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "scaling.svg")
	if err := run(in, out, "small", "test"); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML.
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
	}
	for _, want := range []string{"sluice (2 loops)", "direct (no proxy)", "Throughput", "p99 latency", "CPU per request", "scaling-20260101-000000.tsv"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(string(svg), "HAProxy") {
		t.Error("a /big row was drawn for -path small")
	}
}

func TestCollectAverages(t *testing.T) {
	rows, err := readTSV(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	ss := collect(rows, "small")
	if len(ss) != 2 || ss[0].name != "sluice" || ss[1].name != "direct" {
		t.Fatalf("series order: %v", ss)
	}
	p := ss[0].points[1]
	if p.conns != 100 || p.rps != 42000 || p.n != 2 {
		t.Fatalf("sluice at 100 conns: %+v", p)
	}
	if c := ss[1].points[0].cpu; c == c { // NaN: the direct run has no proxy CPU
		t.Fatalf("direct cpu = %v, want NaN", c)
	}
}

func TestReadTSVNeedsConns(t *testing.T) {
	if _, err := readTSV(strings.NewReader("peer\tpath\trps\n")); err == nil {
		t.Fatal("a TSV without a conns column was accepted")
	}
}

// Command chart draws the scaling run of bench/peers (run-scaling.sh) as an
// SVG: requests per second, p99 latency and proxy CPU per request against the
// number of wrk connections, one line per proxy.
//
//	go run ./bench/chart [-in scaling-<ts>.tsv] [-out scaling.svg] [-path small]
//
// With no -in it reads the newest bench/peers/results/scaling-*.tsv. The SVG
// is written by hand (standard library only), so the chart adds nothing to
// go.mod. `make chart` runs it and, if rsvg-convert is installed, also writes
// a PNG beside the SVG.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "", "scaling TSV from run-scaling.sh (default: newest bench/peers/results/scaling-*.tsv)")
	out := flag.String("out", "bench/peers/results/scaling.svg", "SVG file to write")
	path := flag.String("path", "small", "origin path whose rows are drawn (small or big)")
	note := flag.String("note", "", "extra line under the title (e.g. where and when it was measured)")
	flag.Parse()
	if err := run(*in, *out, *path, *note); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out, path, note string) error {
	if in == "" {
		files, _ := filepath.Glob("bench/peers/results/scaling-*.tsv")
		if len(files) == 0 {
			return errors.New("no bench/peers/results/scaling-*.tsv; run bench/peers/run-scaling.sh or pass -in")
		}
		sort.Strings(files) // scaling-YYYYMMDD-HHMMSS.tsv: newest last
		in = files[len(files)-1]
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readTSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	series := collect(rows, path)
	if len(series) == 0 {
		return fmt.Errorf("%s: no rows for path %q", in, path)
	}
	title := fmt.Sprintf("sluice and peers, /%s through each proxy, by wrk connections", path)
	sub := "source: " + filepath.Base(in)
	if note != "" {
		sub += " · " + note
	}
	svg := render(series, title, sub)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(svg), 0o644); err != nil {
		return err
	}
	fmt.Printf("chart: %s -> %s (%d series)\n", in, out, len(series))
	return nil
}

// row is one measured run: a line of run-peers.sh's TSV, by column name.
type row map[string]string

func readTSV(r io.Reader) ([]row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var head []string
	var rows []row
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if head == nil || cols[0] == "peer" { // header (also of appended runs)
			head = cols
			continue
		}
		m := row{}
		for i, c := range cols {
			if i < len(head) {
				m[head[i]] = c
			}
		}
		rows = append(rows, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if head == nil {
		return nil, errors.New("empty file")
	}
	for _, k := range []string{"peer", "path", "conns", "rps", "p99_ms", "proxy_cpu_us_per_req"} {
		found := false
		for _, h := range head {
			found = found || h == k
		}
		if !found {
			return nil, fmt.Errorf("no %q column (is this a run-peers.sh TSV with a conns column?)", k)
		}
	}
	return rows, nil
}

// point is one connection count of one series; a metric is NaN when absent
// (the direct run has no proxy CPU).
type point struct {
	conns         float64
	rps, p99, cpu float64
	errs          float64 // wrk connect+write+status+timeout errors (read errors: peers that close)
	n             int
}

type series struct {
	name   string
	label  string
	color  string
	dash   string
	width  float64
	points []point
}

// style per known peer: sluice stands out, direct is a dashed reference.
var styles = map[string]struct {
	label, color, dash string
	width              float64
	order              int
}{
	"sluice":         {"sluice (2 loops)", "#d62728", "", 3, 0},
	"sluice-1loop":   {"sluice (1 loop)", "#ff7f0e", "7 4", 2.2, 1},
	"haproxy":        {"HAProxy", "#1f77b4", "", 2, 2},
	"ats":            {"Traffic Server", "#2ca02c", "", 2, 3},
	"nginx":          {"nginx", "#9467bd", "", 2, 4},
	"squid":          {"Squid", "#8c564b", "", 2, 5},
	"tinyproxy":      {"tinyproxy", "#e377c2", "", 2, 6},
	"go-baseline":    {"net/http baseline", "#17becf", "", 2, 7},
	"direct":         {"direct (no proxy)", "#555555", "3 3", 2, 8},
	"l4relay":        {"L4 relay (HAProxy)", "#000000", "8 3 2 3", 2.2, 9},
	"gnetrelay":      {"gnet L4 relay", "#7f7f7f", "2 2", 2, 10},
	"sluice-gnet":    {"sluice (gnet)", "#d62728", "", 3, 0},
	"sluice-netpoll": {"sluice (netpoll)", "#ff9896", "5 2", 2.5, 1},
}

var extraColors = []string{"#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a"}

func num(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// collect groups rows of one path by peer and connection count, averaging
// repeated runs.
func collect(rows []row, path string) []*series {
	by := map[string]map[float64]*point{}
	for _, r := range rows {
		if r["path"] != path {
			continue
		}
		c := num(r["conns"])
		if math.IsNaN(c) || c <= 0 {
			continue
		}
		m := by[r["peer"]]
		if m == nil {
			m = map[float64]*point{}
			by[r["peer"]] = m
		}
		p := m[c]
		if p == nil {
			p = &point{conns: c}
			m[c] = p
		}
		add := func(dst *float64, v float64) {
			if p.n == 0 {
				*dst = v
			} else {
				*dst += v
			}
		}
		add(&p.rps, num(r["rps"]))
		add(&p.p99, num(r["p99_ms"]))
		add(&p.cpu, num(r["proxy_cpu_us_per_req"]))
		for _, k := range []string{"err_connect", "err_write", "err_status", "err_timeout"} {
			if v := num(r[k]); v > 0 {
				p.errs += v
			}
		}
		p.n++
	}
	var out []*series
	extra := 0
	for name, m := range by {
		s := &series{name: name, label: name, width: 2}
		if st, ok := styles[name]; ok {
			s.label, s.color, s.dash, s.width = st.label, st.color, st.dash, st.width
		} else {
			s.color = extraColors[extra%len(extraColors)]
			extra++
		}
		for _, p := range m {
			n := float64(p.n)
			s.points = append(s.points, point{conns: p.conns, rps: p.rps / n, p99: p.p99 / n, cpu: p.cpu / n, errs: p.errs, n: p.n})
		}
		sort.Slice(s.points, func(i, j int) bool { return s.points[i].conns < s.points[j].conns })
		out = append(out, s)
	}
	order := func(name string) int {
		if st, ok := styles[name]; ok {
			return st.order
		}
		return 100
	}
	sort.Slice(out, func(i, j int) bool {
		if oi, oj := order(out[i].name), order(out[j].name); oi != oj {
			return oi < oj
		}
		return out[i].name < out[j].name
	})
	return out
}

// panel is one chart: a metric against log10(connections).
type panel struct {
	title, yLabel string
	logY          bool
	value         func(point) float64
	format        func(float64) string
}

const (
	width      = 1320.0
	height     = 580.0
	panelW     = 340.0
	panelH     = 330.0
	panelTop   = 100.0
	panelLeft0 = 80.0
	panelGap   = 90.0
)

func render(ss []*series, title, sub string) string {
	panels := []panel{
		{"Throughput", "requests per second", false, func(p point) float64 { return p.rps }, fmtCount},
		{"p99 latency (log scale)", "milliseconds", true, func(p point) float64 { return p.p99 }, fmtMs},
		{"Proxy CPU per request", "CPU µs per request (all cores)", false, func(p point) float64 { return p.cpu }, fmtCount},
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%g" height="%g" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%g" y="32" font-size="20" font-weight="bold" text-anchor="middle" fill="#222">%s</text>`+"\n", width/2, esc(title))
	fmt.Fprintf(&b, `<text x="%g" y="56" font-size="13" text-anchor="middle" fill="#555">%s</text>`+"\n", width/2, esc(sub))

	// Shared x range: the connection counts present.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	var xs []float64
	seen := map[float64]bool{}
	for _, s := range ss {
		for _, p := range s.points {
			xmin, xmax = math.Min(xmin, p.conns), math.Max(xmax, p.conns)
			if !seen[p.conns] {
				seen[p.conns] = true
				xs = append(xs, p.conns)
			}
		}
	}
	sort.Float64s(xs)
	lx0, lx1 := math.Log10(xmin), math.Log10(xmax)
	if lx1-lx0 < 1e-9 {
		lx0, lx1 = lx0-0.5, lx1+0.5
	}
	pad := (lx1 - lx0) * 0.06
	lx0, lx1 = lx0-pad, lx1+pad

	anyErrs := false
	for i, pn := range panels {
		left := panelLeft0 + float64(i)*(panelW+panelGap)
		top := panelTop
		xOf := func(c float64) float64 { return left + (math.Log10(c)-lx0)/(lx1-lx0)*panelW }

		// y range over the values present.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range ss {
			for _, p := range s.points {
				v := pn.value(p)
				if math.IsNaN(v) || (pn.logY && v <= 0) {
					continue
				}
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if math.IsInf(lo, 1) {
			lo, hi = 0, 1
		}
		var ticks []float64
		var y0, y1 float64
		if pn.logY {
			y0, y1 = math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
			if y1 <= y0 {
				y1 = y0 + 1
			}
			for e := y0; e <= y1+1e-9; e++ {
				ticks = append(ticks, math.Pow(10, e))
			}
		} else {
			step := niceStep(hi / 5)
			y0, y1 = 0, math.Ceil(hi*1.05/step)*step
			if y1 == 0 {
				y1 = 1
			}
			for t := 0.0; t <= y1+step/2; t += step {
				ticks = append(ticks, t)
			}
		}
		yOf := func(v float64) float64 {
			if pn.logY {
				return top + panelH - (math.Log10(v)-y0)/(y1-y0)*panelH
			}
			return top + panelH - (v-y0)/(y1-y0)*panelH
		}

		// Frame, grid, ticks.
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="16" font-weight="bold" text-anchor="middle" fill="#222">%s</text>`+"\n", left+panelW/2, top-16, esc(pn.title))
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="#fafafa" stroke="#888" stroke-width="1"/>`+"\n", left, top, panelW, panelH)
		for _, t := range ticks {
			y := yOf(t)
			fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd" stroke-width="1"/>`+"\n", left, y, left+panelW, y)
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" font-size="12" text-anchor="end" fill="#333">%s</text>`+"\n", left-6, y+4, esc(pn.format(t)))
		}
		for _, c := range xs {
			x := xOf(c)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd" stroke-width="1"/>`+"\n", x, top, x, top+panelH)
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="12" text-anchor="middle" fill="#333">%s</text>`+"\n", x, top+panelH+18, fmtCount(c))
		}
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="13" text-anchor="middle" fill="#222">wrk connections (log scale)</text>`+"\n", left+panelW/2, top+panelH+40)
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="13" text-anchor="middle" fill="#222" transform="rotate(-90 %g %g)">%s</text>`+"\n",
			left-58, top+panelH/2, left-58, top+panelH/2, esc(pn.yLabel))

		// Lines and markers.
		for _, s := range ss {
			var pts, rings []string
			for _, p := range s.points {
				v := pn.value(p)
				if math.IsNaN(v) || (pn.logY && v <= 0) {
					continue
				}
				pt := fmt.Sprintf("%.1f,%.1f", xOf(p.conns), yOf(v))
				pts = append(pts, pt)
				if p.errs > 0 {
					rings = append(rings, pt)
				}
			}
			if len(pts) == 0 {
				continue
			}
			dash := ""
			if s.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%g"%s stroke-linejoin="round"/>`+"\n", strings.Join(pts, " "), s.color, s.width, dash)
			for _, pt := range pts {
				xy := strings.SplitN(pt, ",", 2)
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
			for _, pt := range rings {
				xy := strings.SplitN(pt, ",", 2)
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="8" fill="none" stroke="#000" stroke-width="1.5"/>`+"\n", xy[0], xy[1])
				anyErrs = true
			}
		}
	}

	// Legend: one row under the panels.
	ly := panelTop + panelH + 80
	lx := panelLeft0
	step := (width - 2*panelLeft0) / float64(len(ss))
	if step > 200 {
		step = 200
	}
	for _, s := range ss {
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="%g"%s/>`+"\n", lx, ly, lx+30, ly, s.color, s.width+0.5, dash)
		fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="3.5" fill="%s"/>`+"\n", lx+15, ly, s.color)
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="14" fill="#222">%s</text>`+"\n", lx+38, ly+5, esc(s.label))
		lx += step
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="12" fill="#555">Each point: one wrk run, or the mean of the runs the TSV holds for it (-t1, keep-alive, absolute-form GET through the proxy; direct = origin-form to the origin). Proxy CPU = utime+stime of the proxy's processes / requests.</text>`+"\n", panelLeft0, ly+36)
	if anyErrs {
		fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="6" fill="none" stroke="#000" stroke-width="1.5"/>`+"\n", panelLeft0+6, ly+56)
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="12" fill="#555">ringed point: the run had errors (non-2xx responses, timeouts, connect or write errors; wrk counts non-2xx responses in req/s). See the TSV.</text>`+"\n", panelLeft0+20, ly+60)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// fmtCount prints 1500 as "1.5k", 40000 as "40k", 12 as "12".
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

func fmtMs(v float64) string { return trim(v) }

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

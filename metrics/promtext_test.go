package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// This file is the tests' own reader and linter of the Prometheus text
// exposition format (version 0.0.4, exposition_formats.md), independent of
// the code under test and of VictoriaMetrics: parseFamilies checks the
// structure, lintFamilies what promtool check metrics (client_golang's
// promlint rules) and the format's histogram and summary rules demand.
// TestPromtool runs it beside promtool, and alone when promtool cannot be
// had; every scrape of the other tests goes through parseFamilies.

// sample is one sample line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// promFamily is one metric family: its # HELP and # TYPE lines and its
// samples, in order.
type promFamily struct {
	name, help, typ string
	samples         []sample
}

// parseProm parses a scrape with parseFamilies and returns its samples by
// their canonical key (name{a="x",b="y"}, labels sorted).
func parseProm(r io.Reader) (map[string]sample, error) {
	fams, err := parseFamilies(r)
	if err != nil {
		return nil, err
	}
	out := make(map[string]sample)
	for _, f := range fams {
		for _, s := range f.samples {
			out[s.key()] = s
		}
	}
	return out, nil
}

// parseFamilies parses the text format more strictly than the format
// itself, as sluice must write it:
//   - each family is "# HELP name text", then at once "# TYPE name type",
//     then its samples; a family appears once (so its samples are contiguous, and
//     none comes before its HELP and TYPE);
//   - a sample is of the family above it: named as the family, or for a
//     histogram name_bucket, name_sum or name_count, for a summary
//     name_sum or name_count;
//   - no other # lines, no blank lines, no duplicate series;
//   - metric and label names, label value and HELP escapes, values and
//     timestamps as the format defines them.
func parseFamilies(r io.Reader) ([]*promFamily, error) {
	var (
		fams   []*promFamily
		cur    *promFamily // the family of the last # TYPE line
		open   string      // the family of a HELP line not yet followed by TYPE
		help   = map[string]string{}
		seen   = map[string]bool{} // families with a TYPE line
		series = map[string]bool{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s: %q", n, fmt.Sprintf(format, args...), line)
		}
		if open != "" && !strings.HasPrefix(line, "# TYPE "+open+" ") {
			return nil, fail("HELP for %s not followed by its TYPE", open)
		}
		switch {
		case line == "":
			return nil, fail("blank line")
		case strings.HasPrefix(line, "# HELP "):
			name, text, _ := strings.Cut(line[len("# HELP "):], " ")
			if !validMetricName(name) {
				return nil, fail("bad metric name in HELP")
			}
			if _, dup := help[name]; dup || seen[name] {
				return nil, fail("second HELP for %s", name)
			}
			text, err := unescapeHelp(text)
			if err != nil {
				return nil, fail("%v", err)
			}
			help[name] = text
			open = name
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(line[len("# TYPE "):], " ")
			if seen[name] {
				return nil, fail("second TYPE for %s", name)
			}
			if name != open {
				return nil, fail("TYPE without its HELP line just before it")
			}
			h := help[name]
			switch typ {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				return nil, fail("unknown type %q", typ)
			}
			if cur != nil && len(cur.samples) == 0 {
				return nil, fmt.Errorf("family %s has no samples", cur.name)
			}
			seen[name] = true
			open = ""
			cur = &promFamily{name: name, help: h, typ: typ}
			fams = append(fams, cur)
		case line[0] == '#':
			return nil, fail("comment line")
		default:
			s, err := parsePromLine(line)
			if err != nil {
				return nil, fail("%v", err)
			}
			if cur == nil || !sampleOf(s.name, cur) {
				if seen[familyGuess(s.name)] {
					return nil, fail("sample away from the rest of its family")
				}
				return nil, fail("sample without HELP and TYPE for its family")
			}
			k := s.key()
			if series[k] {
				return nil, fail("duplicate series %s", k)
			}
			series[k] = true
			cur.samples = append(cur.samples, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if open != "" {
		return nil, fmt.Errorf("HELP for %s without a TYPE", open)
	}
	if cur != nil && len(cur.samples) == 0 {
		return nil, fmt.Errorf("family %s has no samples", cur.name)
	}
	return fams, nil
}

// sampleOf reports whether a sample named name belongs to family f.
func sampleOf(name string, f *promFamily) bool {
	if name == f.name {
		return f.typ != "histogram"
	}
	switch strings.TrimPrefix(name, f.name) {
	case "_bucket":
		return f.typ == "histogram"
	case "_sum", "_count":
		return f.typ == "histogram" || f.typ == "summary"
	}
	return false
}

// familyGuess is the family a sample name would belong to if it were a
// histogram's or summary's, for error messages.
func familyGuess(name string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok {
			return b
		}
	}
	return name
}

// unescapeHelp undoes the escapes of a HELP text: \\ and \n, nothing else.
func unescapeHelp(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i++; i == len(s) || s[i] != '\\' && s[i] != 'n' {
			return "", fmt.Errorf("bad escape in HELP")
		}
		b.WriteByte(map[byte]byte{'\\': '\\', 'n': '\n'}[s[i]])
	}
	return b.String(), nil
}

// parsePromLine parses `name{label="value",...} value [timestamp]`. A
// space may follow a comma between labels (VictoriaMetrics writes
// go_info_ext so, and the format's parsers accept it).
func parsePromLine(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := 0
	for i < len(line) && isNameByte(line[i], i == 0, true) {
		i++
	}
	if i == 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:i], line[i:]
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			j := 0
			for j < len(line) && isNameByte(line[j], j == 0, false) {
				j++
			}
			if j == 0 || j+1 >= len(line) || line[j] != '=' || line[j+1] != '"' {
				return s, fmt.Errorf("bad label")
			}
			name := line[:j]
			if strings.HasPrefix(name, "__") {
				return s, fmt.Errorf("reserved label name %s", name)
			}
			line = line[j+2:]
			var v strings.Builder
			for {
				if line == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				c := line[0]
				line = line[1:]
				if c == '"' {
					break
				}
				if c == '\n' {
					return s, fmt.Errorf("raw newline in label value")
				}
				if c == '\\' {
					if line == "" {
						return s, fmt.Errorf("bad escape")
					}
					switch line[0] {
					case '\\', '"':
						v.WriteByte(line[0])
					case 'n':
						v.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape")
					}
					line = line[1:]
					continue
				}
				v.WriteByte(c)
			}
			if _, dup := s.labels[name]; dup {
				return s, fmt.Errorf("duplicate label %s", name)
			}
			s.labels[name] = v.String()
			if strings.HasPrefix(line, ",") {
				line = line[1:]
			} else if !strings.HasPrefix(line, "}") {
				return s, fmt.Errorf("want , or }")
			}
		}
	}
	if !strings.HasPrefix(line, " ") {
		return s, fmt.Errorf("no space before the value")
	}
	fields := strings.Split(line[1:], " ")
	if len(fields) < 1 || len(fields) > 2 { // value [timestamp]
		return s, fmt.Errorf("want value [timestamp]")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || strings.ContainsAny(fields[0], "_xXpP") { // no Go-only syntax
		return s, fmt.Errorf("bad value %q", fields[0])
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", fields[1])
		}
	}
	s.value = v
	return s, nil
}

// isNameByte reports whether c may be in a metric name (colons too) or a
// label name, at the first position or later.
func isNameByte(c byte, first, metric bool) bool {
	return c == '_' || metric && c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

func validMetricName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i], i == 0, true) {
			return false
		}
	}
	return s != ""
}

// key is the canonical name of s's series.
func (s sample) key() string {
	return series(s.name, s.labels)
}

// series is the canonical name of a series: name{a="x",b="y"}, labels sorted.
func series(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Unit words of promlint (client_golang prometheus/testutil/promlint):
// a non-base unit, or a base unit with an SI prefix, is a problem, and so
// is an abbreviated unit as a word of a name.
var (
	promUnits = map[string]string{
		"amperes": "amperes", "bytes": "bytes", "celsius": "celsius", "grams": "grams",
		"joules": "joules", "kelvin": "kelvin", "meters": "meters", "metres": "metres",
		"seconds": "seconds", "volts": "volts",
		"minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds",
		"kelvins": "kelvin", "fahrenheit": "celsius", "rankine": "celsius",
		"inches": "meters", "yards": "meters", "miles": "meters", "bits": "bytes",
		"calories": "joules", "pounds": "grams", "ounces": "grams",
	}
	promUnitPrefixes = []string{"pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto",
		"kilo", "kibi", "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi"}
	promUnitAbbreviations = []string{"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"}
	camelCase             = regexp.MustCompile(`[a-z][A-Z]`)
)

// lintFamilies returns the problems of fams, one line each: promlint's
// (HELP text, _total on counters and only on them, names reserved for
// histograms and summaries, the type or a non-base or abbreviated unit in
// the name, colons, camelCase), a HELP that is not a sentence, counters
// that are negative, and histograms and summaries that are not
// self-consistent (exposition_formats.md, "Histograms and summaries").
// Histograms named in noSum may lack a _sum.
func lintFamilies(fams []*promFamily, noSum map[string]bool) []string {
	var problems []string
	for _, f := range fams {
		bad := func(format string, args ...any) {
			problems = append(problems, f.name+": "+fmt.Sprintf(format, args...))
		}
		if f.help == "" {
			bad("no help text")
		} else if c := f.help[0]; c < 'A' || c > 'Z' || !strings.HasSuffix(f.help, ".") {
			bad("HELP %q is not a sentence", f.help)
		}
		total := strings.HasSuffix(f.name, "_total")
		switch {
		case f.typ == "counter" && !total:
			bad(`counter metrics should have "_total" suffix`)
		case f.typ != "counter" && f.typ != "untyped" && total:
			bad(`non-counter metrics should not have "_total" suffix`)
		}
		if f.typ != "untyped" {
			if f.typ != "histogram" && strings.HasSuffix(f.name, "_bucket") {
				bad(`non-histogram metrics should not have "_bucket" suffix`)
			}
			if f.typ != "histogram" && f.typ != "summary" &&
				(strings.HasSuffix(f.name, "_count") || strings.HasSuffix(f.name, "_sum")) {
				bad(`non-histogram and non-summary metrics should not have "_count" or "_sum" suffix`)
			}
		}
		lower := strings.ToLower(f.name)
		for _, t := range []string{"counter", "gauge", "histogram", "summary", "gauge_histogram"} {
			if strings.Contains(lower, "_"+t+"_") || strings.HasSuffix(lower, "_"+t) {
				bad("metric name should not include type %q", t)
			}
		}
		for _, word := range strings.Split(lower, "_") {
			if base, ok := promUnitOf(word); ok && base != word {
				bad("use base unit %q instead of %q", base, word)
			}
			for _, a := range promUnitAbbreviations {
				if word == a {
					bad("metric names should not contain abbreviated units")
				}
			}
		}
		if strings.Contains(f.name, ":") {
			bad("metric names should not contain ':'")
		}
		if camelCase.MatchString(f.name) {
			bad("metric names should be written in snake_case")
		}
		labelProblems := map[string]bool{}
		for _, s := range f.samples {
			for l := range s.labels {
				switch {
				case camelCase.MatchString(l):
					labelProblems["label names should be written in snake_case"] = true
				case l == "le" && f.typ != "histogram":
					labelProblems[`non-histogram metrics should not have "le" label`] = true
				case l == "quantile" && f.typ != "summary":
					labelProblems[`non-summary metrics should not have "quantile" label`] = true
				}
			}
			if f.typ == "counter" && !(s.value >= 0) {
				labelProblems[fmt.Sprintf("counter %s is %v", s.key(), s.value)] = true
			}
		}
		for p := range labelProblems {
			bad("%s", p)
		}
		switch f.typ {
		case "histogram":
			for _, p := range lintHistogram(f, noSum[f.name]) {
				bad("%s", p)
			}
		case "summary":
			for _, p := range lintSummary(f) {
				bad("%s", p)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// promUnitOf returns the base unit of a name's word that is a unit, maybe
// with an SI prefix.
func promUnitOf(word string) (base string, ok bool) {
	if base, ok := promUnits[word]; ok {
		return base, true
	}
	for _, p := range promUnitPrefixes {
		if rest, cut := strings.CutPrefix(word, p); cut {
			if base, ok := promUnits[rest]; ok {
				return base, true
			}
		}
	}
	return "", false
}

// withoutLabel is the canonical series of s without label l: the series
// that a histogram's buckets, sum and count share.
func withoutLabel(s sample, l string) string {
	labels := make(map[string]string, len(s.labels))
	for k, v := range s.labels {
		if k != l {
			labels[k] = v
		}
	}
	return series("", labels)
}

// lintHistogram checks each series of histogram f: le buckets in
// increasing order with non-decreasing counts, a +Inf bucket, a _count
// equal to it, and a _sum (unless noSum).
func lintHistogram(f *promFamily, noSum bool) []string {
	type hist struct {
		lastLE, lastCount float64
		buckets           int
		inf, count, sum   *float64
	}
	var problems []string
	hs := map[string]*hist{}
	var order []string
	get := func(k string) *hist {
		if hs[k] == nil {
			hs[k] = &hist{lastLE: math.Inf(-1)}
			order = append(order, k)
		}
		return hs[k]
	}
	for _, s := range f.samples {
		v := s.value
		switch strings.TrimPrefix(s.name, f.name) {
		case "_bucket":
			h := get(withoutLabel(s, "le"))
			leText, ok := s.labels["le"]
			le, err := strconv.ParseFloat(leText, 64)
			if !ok || err != nil || math.IsNaN(le) {
				problems = append(problems, fmt.Sprintf("bucket %s: bad le", s.key()))
				continue
			}
			if le <= h.lastLE || v < h.lastCount || h.inf != nil {
				problems = append(problems, fmt.Sprintf("bucket %s out of order or not cumulative", s.key()))
			}
			h.lastLE, h.lastCount = le, v
			h.buckets++
			if math.IsInf(le, 1) {
				h.inf = &v
			}
		case "_count":
			if _, ok := s.labels["le"]; ok {
				problems = append(problems, fmt.Sprintf("%s has an le label", s.key()))
			}
			get(withoutLabel(s, "le")).count = &v
		case "_sum":
			if _, ok := s.labels["le"]; ok {
				problems = append(problems, fmt.Sprintf("%s has an le label", s.key()))
			}
			get(withoutLabel(s, "le")).sum = &v
		}
	}
	for _, k := range order {
		h := hs[k]
		switch {
		case h.inf == nil:
			problems = append(problems, fmt.Sprintf("series %s has no +Inf bucket", k))
		case h.count == nil:
			problems = append(problems, fmt.Sprintf("series %s has no _count", k))
		case *h.count != *h.inf:
			problems = append(problems, fmt.Sprintf("series %s: _count %v is not the +Inf bucket %v", k, *h.count, *h.inf))
		}
		if h.sum == nil && !noSum {
			problems = append(problems, fmt.Sprintf("series %s has no _sum", k))
		}
		if h.sum != nil && noSum {
			problems = append(problems, fmt.Sprintf("series %s has a _sum, but is listed as having none", k))
		}
	}
	return problems
}

// lintSummary checks each series of summary f: quantiles in [0, 1] in
// increasing order, a _sum and a _count.
func lintSummary(f *promFamily) []string {
	type summ struct {
		lastQ      float64
		sum, count bool
	}
	var problems []string
	ss := map[string]*summ{}
	var order []string
	get := func(k string) *summ {
		if ss[k] == nil {
			ss[k] = &summ{lastQ: -1}
			order = append(order, k)
		}
		return ss[k]
	}
	for _, s := range f.samples {
		switch strings.TrimPrefix(s.name, f.name) {
		case "":
			m := get(withoutLabel(s, "quantile"))
			q, err := strconv.ParseFloat(s.labels["quantile"], 64)
			if err != nil || q < 0 || q > 1 || q <= m.lastQ {
				problems = append(problems, fmt.Sprintf("%s: bad or unordered quantile", s.key()))
			}
			m.lastQ = q
		case "_sum":
			get(withoutLabel(s, "quantile")).sum = true
		case "_count":
			get(withoutLabel(s, "quantile")).count = true
		}
	}
	for _, k := range order {
		if m := ss[k]; !m.sum || !m.count {
			problems = append(problems, fmt.Sprintf("series %s lacks _sum or _count", k))
		}
	}
	return problems
}

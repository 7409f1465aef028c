package metrics

import (
	"bytes"
	"cmp"
	"io"
	"slices"
)

// sampleLine is one sample line of a raw scrape and the family it is of.
type sampleLine struct {
	f    *family
	rank int    // order of f's first sample in the raw scrape
	text []byte // the line, without its newline; points into the raw scrape
}

// writeFamilies writes the raw scrape raw, sample lines in the Prometheus
// text format, to w as the format wants them (exposition_formats.md, "Text
// format details"): the samples of each family together, after one # HELP
// and one # TYPE line, both from families. The families come in the order
// of their first samples in raw, the samples of each in their order in raw.
//
// Samples are renamed to their family's name (a family's src names them in
// raw), and a countFromInf histogram gets its _count line. The # lines of
// raw are dropped: VictoriaMetrics writes them, each HELP empty, only after
// the process-wide metrics.ExposeMetadata(true). A sample of no known
// family gets a family of its own with undocumentedHelp.
func writeFamilies(w io.Writer, raw []byte) {
	var (
		lines        = make([]sampleLine, 0, bytes.Count(raw, []byte{'\n'}))
		rank         = make(map[*family]int, len(families))
		undocumented map[string]*family
	)
	for rest := raw; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name := sampleName(line)
		f := lookupFamily(name)
		if f == nil {
			if f = undocumented[string(name)]; f == nil {
				if undocumented == nil {
					undocumented = make(map[string]*family)
				}
				f = undocumentedFamily(string(name))
				undocumented[f.src] = f
			}
		}
		r, ok := rank[f]
		if !ok {
			r = len(rank)
			rank[f] = r
		}
		lines = append(lines, sampleLine{f: f, rank: r, text: line})
	}
	slices.SortStableFunc(lines, func(a, b sampleLine) int { return cmp.Compare(a.rank, b.rank) })

	var out bytes.Buffer
	out.Grow(len(raw) + 128*len(rank))
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && lines[j].f == lines[i].f {
			j++
		}
		writeFamily(&out, lines[i].f, lines[i:j])
		i = j
	}
	_, _ = w.Write(out.Bytes()) // a failed write is the scraper's to notice
}

// writeFamily writes the # HELP and # TYPE lines of f, then its samples.
func writeFamily(out *bytes.Buffer, f *family, lines []sampleLine) {
	out.WriteString("# HELP ")
	out.WriteString(f.name)
	out.WriteByte(' ')
	out.WriteString(f.help)
	out.WriteString("\n# TYPE ")
	out.WriteString(f.name)
	out.WriteByte(' ')
	out.WriteString(f.typ)
	out.WriteByte('\n')
	var inf []byte // value of the +Inf bucket, for countFromInf
	hasCount := false
	for _, l := range lines {
		out.WriteString(f.name)
		out.Write(l.text[len(f.src):]) // lookupFamily matched f.src as a prefix
		out.WriteByte('\n')
		if !f.countFromInf {
			continue
		}
		switch suffix := string(sampleName(l.text)[len(f.src):]); {
		case suffix == "_count":
			hasCount = true
		case suffix == "_bucket" && bytes.Contains(l.text, []byte(`le="+Inf"`)):
			inf = l.text[bytes.LastIndexByte(l.text, ' ')+1:]
		}
	}
	if inf != nil && !hasCount {
		out.WriteString(f.name)
		out.WriteString("_count ")
		out.Write(inf)
		out.WriteByte('\n')
	}
}

// sampleName returns the metric name at the start of a sample line: up to
// the labels or the space before the value.
func sampleName(line []byte) []byte {
	if i := bytes.IndexAny(line, "{ "); i >= 0 {
		return line[:i]
	}
	return line
}

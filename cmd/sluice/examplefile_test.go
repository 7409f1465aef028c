package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sluiceproxy/sluice/engine"
)

// exampleDefault is a default that examples/sluice.yaml states for a field.
type exampleDefault struct {
	path  string // "resolver.max_hosts"
	value string // as written: "1024", "5s", "\"-\"", "max_hosts/4"
	line  int
}

var (
	// "# Proxy listener ...   default 127.0.0.1:3128" above a field.
	defaultWordRE = regexp.MustCompile(`\s{2,}default (\S+)$`)
	// "... (1024)" at the end of a comment, on the field's line or above it.
	defaultParenRE = regexp.MustCompile(`(?:^|\s)\(([^()]+)\)$`)
	// A field line: indentation, key, value, comment.
	fieldRE = regexp.MustCompile(`^( *)([a-z_]+):\s*([^#]*?)\s*(?:#\s*(.*))?$`)
)

// exampleDefaults reads the defaults the example states: "default X" or
// "(X)" at the end of a comment on a field's line or the comment lines
// just above it, and every value of a section whose comment says "the
// values shown are the defaults" (where a parenthesis is a remark). Fields
// of list items (policy rules) are not looked at.
func exampleDefaults(t *testing.T, path string) []exampleDefault {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out       []exampleDefault
		pending   string   // a default stated in the comment lines above
		sections  []string // the path of the mapping we are in, by indentation
		indents   []int
		allShown  = map[string]bool{} // sections whose values are the defaults
		sc        = bufio.NewScanner(f)
		lineNo    int
		inListAt  = -1 // indentation of a list's items we skip, -1: none
		commentRE = regexp.MustCompile(`^\s*#\s?(.*)$`)
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " ")
		if m := commentRE.FindStringSubmatch(line); m != nil {
			if d := defaultWordRE.FindStringSubmatch(m[1]); d != nil {
				pending = d[1]
			} else if d := defaultParenRE.FindStringSubmatch(m[1]); d != nil {
				pending = d[1]
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			pending = ""
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if inListAt >= 0 && indent >= inListAt {
			continue
		}
		inListAt = -1
		if strings.HasPrefix(strings.TrimSpace(line), "- ") {
			inListAt = indent
			continue
		}
		m := fieldRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s:%d: not a field line: %q", path, lineNo, line)
		}
		for len(indents) > 0 && indents[len(indents)-1] >= indent {
			indents, sections = indents[:len(indents)-1], sections[:len(sections)-1]
		}
		key, value, comment := m[2], m[3], m[4]
		field := strings.Join(append(append([]string(nil), sections...), key), ".")
		stated := pending
		pending = ""
		if d := defaultParenRE.FindStringSubmatch(comment); d != nil {
			stated = d[1]
		}
		if value == "" { // a section
			if stated == "the values shown are the defaults" {
				allShown[field] = true
			}
			sections, indents = append(sections, key), append(indents, indent)
			continue
		}
		if len(sections) > 0 && allShown[strings.Join(sections, ".")] {
			stated = value // a parenthesis there is a remark: "(3 x connect)"
		}
		if stated != "" {
			out = append(out, exampleDefault{field, stated, lineNo})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// effectiveYAML loads body as a config file in dir and returns its
// effective configuration, decoded.
func effectiveYAML(t *testing.T, dir, body string) (map[string]any, error) {
	t.Helper()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfigFile(path)
	if err != nil {
		return nil, err
	}
	srv, err := engine.NewServer(c.engineConfig(), nil) // not started
	if err != nil {
		return nil, err
	}
	b, err := yaml.Marshal(c.effective(srv.Config(), "sluice"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc, nil
}

// nestedYAML is a config file setting the field at path to value, with
// extra lines (at the field's indentation) beside it.
func nestedYAML(path, value string, extra ...string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts[:len(parts)-1] {
		b.WriteString(strings.Repeat("  ", i) + p + ":\n")
	}
	ind := strings.Repeat("  ", len(parts)-1)
	b.WriteString(ind + parts[len(parts)-1] + ": " + value + "\n")
	for _, e := range extra {
		b.WriteString(ind + e + "\n")
	}
	return b.String()
}

// TestExampleDefaults: every default examples/sluice.yaml states is the
// default in force: setting a field to the value its comment gives changes
// nothing in the effective configuration (/config) compared with leaving
// it out. A stated default that is not a value ("max_hosts/4") must be one
// of the known derivations, which TestEffectiveDerived checks.
func TestExampleDefaults(t *testing.T) {
	derived := map[string]string{
		"resolver.max_negative_hosts": "max_hosts/4",
		"policy.auth.workers":         "GOMAXPROCS/2, at least 1",
	}
	htpasswd, err := filepath.Abs("../../examples/htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	defaults := exampleDefaults(t, examplePath)
	if len(defaults) < 40 {
		t.Fatalf("found only %d stated defaults in %s: is the parser out of date?", len(defaults), examplePath)
	}
	dir := t.TempDir()
	for _, d := range defaults {
		var extra []string
		if strings.HasPrefix(d.path, "policy.auth.") {
			extra = append(extra, "htpasswd: "+htpasswd) // auth needs its file
		}
		set, err := effectiveYAML(t, dir, nestedYAML(d.path, d.value, extra...))
		if err != nil {
			if derived[d.path] == d.value {
				continue
			}
			t.Errorf("%s:%d: %s: stated default %q is not a value: %v", examplePath, d.line, d.path, d.value, err)
			continue
		}
		absentBody := ""
		if len(extra) > 0 {
			absentBody = "policy:\n  auth:\n    " + extra[0] + "\n"
		}
		absent, err := effectiveYAML(t, dir, absentBody)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := yamlPath(set, d.path), yamlPath(absent, d.path); got != want {
			t.Errorf("%s:%d: %s: stated default %s, but the default in force is %s", examplePath, d.line, d.path, d.value, want)
		}
	}
}

// TestDocumentedFlags: the flags the example and the README's Flags list
// name exist, and that list names every flag (it says it lists them all).
func TestDocumentedFlags(t *testing.T) {
	var help strings.Builder
	if code := run([]string{"-h"}, &help, &help, nil); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	defined := map[string]bool{"h": true, "help": true} // the flag package's
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(help.String(), -1) {
		defined[m[1]] = true
	}
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "\n## Flags\n")
	list, _, ok2 := strings.Cut(list, "override the config file.")
	if !ok || !ok2 {
		t.Fatal(`README.md: no "## Flags" list ending in "override the config file."`)
	}
	flagRE := regexp.MustCompile("(?:^|[\\s'`(])-([a-z][a-z-]*)")
	named := map[string]bool{}
	for _, doc := range []struct{ name, text string }{
		{"examples/sluice.yaml", string(example)},
		{"README.md Flags", list},
		{"README.md make run", strings.Join(readmeRunFlags.FindAllString(string(readme), -1), "\n")},
	} {
		for _, m := range flagRE.FindAllStringSubmatch(doc.text, -1) {
			if !defined[m[1]] {
				t.Errorf("%s names -%s, which is not a flag", doc.name, m[1])
			}
			if doc.name == "README.md Flags" {
				named[m[1]] = true
			}
		}
	}
	for f := range defined {
		if !named[f] && f != "help" {
			t.Errorf("README.md's Flags list does not name -%s", f)
		}
	}
}

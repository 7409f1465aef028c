package main

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder decodes a YAML node tree into the config structs strictly, and
// records every problem, not only the first, with its path and line: an
// unknown or repeated key, a list or mapping where a value goes, a value
// its field's type refuses. yaml.v3's own strict decoding (KnownFields)
// cannot be used alone: it truncates 1.5 into an int, and its TypeError is
// text without the field's path. The leaves are still decoded by yaml.v3
// (Node.Decode), so that scalars mean what they mean in YAML.
type decoder struct {
	errs []*configError
	file string
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *decoder) fail(n *yaml.Node, path, value string, err error) {
	d.errs = append(d.errs, &configError{file: d.file, line: n.Line, field: path, value: value, err: err})
}

// decode sets v, settable, from n; path names n in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	if depth > 64 {
		d.fail(n, path, "", errors.New("nested too deeply"))
		return
	}
	if n.Kind == yaml.AliasNode {
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // the zero value: the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.scalar(n, v, path, "a duration", "want a duration such as 5s, 250ms or 1m30s")
		return
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "", fmt.Errorf("want a string, got %s", kindName(n)))
		} else if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, n.Value, err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "", fmt.Errorf("want a list, got %s", kindName(n)))
			return
		}
		v.Set(reflect.MakeSlice(t, len(n.Content), len(n.Content)))
		for i, item := range n.Content {
			d.decode(item, v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.String:
		d.scalar(n, v, path, "a string", "want a string")
	case reflect.Int:
		// yaml.v3 truncates 1.5 into an int: only an !!int is one.
		if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!int" {
			d.fail(n, path, n.Value, errors.New("want an integer"))
			return
		}
		d.scalar(n, v, path, "an integer", "want an integer")
	case reflect.Float64:
		d.scalar(n, v, path, "a number", "want a number")
	case reflect.Bool:
		d.scalar(n, v, path, "true or false", "want true or false")
	default:
		panic("BUG: config field of unhandled type " + t.String())
	}
}

// scalar decodes a scalar node into v with yaml.v3.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path, want, reason string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "", fmt.Errorf("want %s, got %s", want, kindName(n)))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.fail(n, path, n.Value, errors.New(reason))
	}
}

// mapping decodes mapping n into struct v: its keys are the fields' yaml
// tags, and an inline field's keys are its own.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string, depth int) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "", fmt.Errorf("want a mapping of fields, got %s", kindName(n)))
		return
	}
	var names []string
	fields := map[string][]int{}
	yamlFields(v.Type(), nil, fields, &names)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" { // <<: *anchor
			for _, m := range mergeSources(val) {
				d.mapping(m, v, path, depth+1)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "", fmt.Errorf("a key must be a name, got %s", kindName(k)))
			continue
		}
		field := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k, field, "", fmt.Errorf("set twice (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, field, "", fmt.Errorf("unknown field (want one of %s)", strings.Join(names, ", ")))
			continue
		}
		d.decode(val, v.FieldByIndex(idx), field, depth+1)
	}
}

// yamlFields adds the keys of struct t's fields to fields (with their
// index paths, below index) and names, in order; an inline field's keys
// are added in its place.
func yamlFields(t reflect.Type, index []int, fields map[string][]int, names *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		at := append(append([]int(nil), index...), i)
		switch {
		case opts == "inline":
			yamlFields(f.Type, at, fields, names)
		case name == "-":
		case name == "":
			panic("BUG: config field " + f.Name + " has no yaml name")
		default:
			fields[name] = at
			*names = append(*names, name)
		}
	}
}

// mergeSources returns the mappings a merge key's value names.
func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v.Kind != yaml.SequenceNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	for _, m := range v.Content {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		out = append(out, m)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// lineOf returns the line of the field at path ("policy.rules[2].hosts[0]")
// in the tree under root, or of its deepest ancestor present in the file:
// the line of a list element, or of the key of a mapping entry. 0: no file.
func lineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	n, line := root, root.Line
	for part := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		k, v := mappingEntry(n, name)
		if v == nil {
			return line
		}
		n, line = v, k.Line
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if n.Kind == yaml.AliasNode {
				n = n.Alias
			}
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

// mappingEntry returns the key and value nodes of name in mapping n (merge
// keys included), or nils.
func mappingEntry(n *yaml.Node, name string) (key, value *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name && n.Content[i].ShortTag() != "!!merge" {
			return n.Content[i], n.Content[i+1]
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].ShortTag() == "!!merge" {
			for _, m := range mergeSources(n.Content[i+1]) {
				if k, v := mappingEntry(m, name); v != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

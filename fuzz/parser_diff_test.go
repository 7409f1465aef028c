package fuzz

import (
	"testing"

	"github.com/sluiceproxy/sluice/parser"
)

// TestNetHTTPDifferences pins every intended difference between sluice's
// request parser and net/http.ReadRequest with its example.
func TestNetHTTPDifferences(t *testing.T) {
	for _, d := range netHTTPDifferences {
		t.Run(d.id, func(t *testing.T) {
			var p parser.RequestParser
			n, err := p.Parse([]byte(d.example))
			sluice := err == nil && n == len(d.example)
			if sluice != d.sluice {
				t.Fatalf("sluice accepts = %v (n %d, err %v), documented %v", sluice, n, err, d.sluice)
			}
			hr, herr := readNetHTTP([]byte(d.example))
			if (herr == nil) != d.nethttp {
				t.Fatalf("net/http accepts = %v (%v), documented %v", herr == nil, herr, d.nethttp)
			}
			if d.sluice && d.nethttp && compareWithNetHTTP(&p.Req, hr) == "" {
				t.Fatal("both accept the example and agree on it")
			}
			if d.sluice && explained([]byte(d.example), &p.Req) != d.id {
				t.Fatalf("the example is explained by %q", explained([]byte(d.example), &p.Req))
			}
		})
	}
}

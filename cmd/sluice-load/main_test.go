package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// startOrigin starts a net/http origin on loopback that records the
// request-target of every request it answers.
func startOrigin(t *testing.T) (addr string, targets func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI)
		mu.Unlock()
		w.Write([]byte("hello"))
	})}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestRun(t *testing.T) {
	addr, targets := startOrigin(t)
	cases := []struct {
		name       string
		args       []string
		wantTarget string // request-target the origin must see
		wantOut    []string
	}{
		{
			name:       "proxy-by-default",
			args:       []string{"-target", addr, "-url", "http://origin.test/p", "-c", "2", "-n", "40"},
			wantTarget: "GET http://origin.test/p",
			wantOut:    []string{"through a proxy", "requests     40 ", "status       200: 40", "connections  2 opened", "p99.9"},
		},
		{
			name:       "direct",
			args:       []string{"-url", "http://" + addr + "/d", "-c", "3", "-pipeline", "4", "-n", "30", "-H", "X-Test: 1"},
			wantTarget: "GET /d",
			wantOut:    []string{"direct", "requests     30 ", "status       200: 30", "connections  3 opened", "pipeline 4"},
		},
		{
			name:       "proxy-off",
			args:       []string{"-target", addr, "-url", "http://origin.test/o", "-proxy=false", "-n", "5", "-body-size", "10"},
			wantTarget: "POST /o",
			wantOut:    []string{"POST", "requests     5 ", "status       200: 5"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			seen := targets()
			if len(seen) == 0 || seen[len(seen)-1] != tc.wantTarget {
				t.Errorf("origin saw %q last, want %q", seen[len(seen)-1:], tc.wantTarget)
			}
		})
	}
}

func TestRunProgress(t *testing.T) {
	addr, _ := startOrigin(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-url", "http://" + addr + "/", "-c", "1", "-d", "1100ms"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "req/s") || !strings.Contains(stderr.String(), "errors 0") {
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}
}

func TestRunUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("-h: exit %d", code)
	}
	for _, flag := range []string{"-target", "-url", "-proxy", "-c", "-pipeline", "-d", "-n", "-rate", "-method", "-body-size", "-H", "-timeout"} {
		if !strings.Contains(stderr.String(), "  "+flag+" ") && !strings.Contains(stderr.String(), "  "+flag+"\n") {
			t.Errorf("-h does not document %s", flag)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{}, exitUsage},
		{[]string{"-url", "http://x/", "extra"}, exitUsage},
		{[]string{"-url", "https://x/"}, exitUsage},
		{[]string{"-url", "http://x/", "-c", "-1"}, exitUsage},
		{[]string{"-url", "http://x/", "-H", "bad header"}, exitUsage},
		{[]string{"-url", "http://x/", "-nosuchflag"}, exitUsage},
		{[]string{"-url", "http://" + dead + "/", "-n", "1"}, exitRun},
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
		})
	}
}

func TestTargetDiffers(t *testing.T) {
	for _, tc := range []struct {
		target, url string
		want        bool
	}{
		{"", "http://a/", false},
		{"a:80", "http://a/", false},
		{"A:80", "http://a/", false},
		{"a:8080", "http://a:8080/x", false},
		{"[::1]:80", "http://[::1]/", false},
		{"a:81", "http://a/", true},
		{"127.0.0.1:3128", "http://origin.test/", true},
	} {
		if got := targetDiffers(tc.target, tc.url); got != tc.want {
			t.Errorf("targetDiffers(%q, %q) = %v, want %v", tc.target, tc.url, got, tc.want)
		}
	}
}

package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitPath = "systemd/sluice.service"

// unitSettings reads a systemd unit: section.key -> values, in order
// (a key may be given more than once, as ExecReload= is).
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := make(map[string][]string)
	section := ""
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, n+1, line)
			}
			settings[section+"."+k] = append(settings[section+"."+k], v)
		}
	}
	return settings
}

// TestSystemdUnit: the unit runs sluice unprivileged and hardened, reloads
// with SIGHUP after checking the file, and gives the drain time to finish.
func TestSystemdUnit(t *testing.T) {
	s := unitSettings(t, unitPath)
	want := map[string]string{
		"Service.ExecStart":               "/usr/local/bin/sluice -config /etc/sluice/sluice.yaml",
		"Service.User":                    "sluice",
		"Service.KillSignal":              "SIGTERM",
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.SystemCallArchitectures": "native",
		"Install.WantedBy":                "multi-user.target",
	}
	for k, v := range want {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	if got := s["Service.ExecReload"]; len(got) == 0 || got[len(got)-1] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%q: the last must send SIGHUP (sluice reloads its config on it)", got)
	}
	if got := s["Service.ExecReload"]; len(got) < 2 || !strings.Contains(got[0], "-check-config /etc/sluice/sluice.yaml") {
		t.Errorf("ExecReload=%q: check the file first, so that systemctl reload reports a bad one", got)
	}
	if fam := strings.Join(s["Service.RestrictAddressFamilies"], " "); !strings.Contains(fam, "AF_NETLINK") || !strings.Contains(fam, "AF_INET6") {
		t.Errorf("RestrictAddressFamilies=%s: sluice needs AF_INET, AF_INET6 and AF_NETLINK (interface addresses)", fam)
	}
	if f := s["Service.SystemCallFilter"]; !strings.Contains(strings.Join(f, " "), "@system-service") {
		t.Errorf("SystemCallFilter=%q: want @system-service", f)
	}
	// The stop timeout outlasts the default drain (30s, no pre-stop delay).
	stop := strings.Join(s["Service.TimeoutStopSec"], "")
	d, err := time.ParseDuration(stop)
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v (write it with a unit: 45s)", stop, err)
	}
	if d <= 30*time.Second {
		t.Errorf("TimeoutStopSec=%v: no more than the drain (30s): systemd would SIGKILL sluice mid-drain", d)
	}
	if s["Service.DynamicUser"] != nil {
		t.Errorf("DynamicUser: the iptables rules need sluice's UID before it starts")
	}
}

// TestSystemdVerify runs systemd-analyze verify, where installed, on the
// unit with its binary pointed at one that exists: an unknown key or a bad
// value is a warning there, and a failure here.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/sluice", truePath)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSysusers(t *testing.T) {
	data, err := os.ReadFile("systemd/sluice.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "u" && f[1] == "sluice" {
			found = true
		}
	}
	if !found {
		t.Errorf("systemd/sluice.sysusers creates no user sluice (the unit's User=)")
	}
}

package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// sluiceBinary builds sluice from this checkout (the repository's top,
// the module above this one) once per test run.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DEPLOY_SLUICE_BIN"); bin != "" {
		return bin // built by the test that started this process
	}
	if testing.Short() {
		t.Skip("builds sluice")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sluice")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/sluice: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestConfigMapsCheck: sluice itself accepts the config every ConfigMap
// carries (-check-config: unknown fields, bad values, each by line). A
// rejected file would leave the pod crash-looping at deploy time.
func TestConfigMapsCheck(t *testing.T) {
	bin := sluiceBinary(t)
	for _, manifest := range []string{"kubernetes/sidecar.yaml", "kubernetes/egress-gateway.yaml"} {
		for _, o := range loadManifest(t, manifest) {
			cm, ok := o.(*corev1.ConfigMap)
			if !ok {
				continue
			}
			for key, data := range cm.Data {
				t.Run(cm.Name+"/"+key, func(t *testing.T) {
					file := filepath.Join(t.TempDir(), key)
					if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
						t.Fatal(err)
					}
					out, err := exec.Command(bin, "-check-config", file).CombinedOutput()
					if err != nil {
						t.Fatalf("%s in %s: sluice -check-config: %v\n%s", key, manifest, err, out)
					}
					t.Logf("%s", out)
				})
			}
		}
	}
}

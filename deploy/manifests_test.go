package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// sluiceUID is the user sluice runs as: distroless's nonroot, the
// Dockerfile's USER, and what the iptables rules exempt.
const sluiceUID = 65532

// strictCodecs decode the API kinds the manifests use, strictly: an unknown
// field, a field spelt in the wrong case, a duplicate key or a value of the
// wrong type is an error, as the API server's strict field validation
// (kubectl apply --validate=strict) makes it.
var strictCodecs = func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic("BUG: " + err.Error())
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
}()

// decodeManifest decodes every YAML document of data into its API type.
func decodeManifest(data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	dec := strictCodecs.UniversalDeserializer()
	var objs []runtime.Object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objs = append(objs, obj)
	}
}

// stripComments drops the comment-only lines of a YAML document.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func loadManifest(t *testing.T, path string) []runtime.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifest(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs
}

// only returns the one object of type T in objs.
func only[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T, have %d", zero, len(found))
	}
	return found[0]
}

// TestStrictDecoding: the decoder the tests rely on refuses what the API
// server would: were it lenient, every other test here would pass on a
// manifest kubectl rejects or, worse, applies without the misspelt field.
func TestStrictDecoding(t *testing.T) {
	const good = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
    - name: sluice
      image: sluice:dev
      restartPolicy: Always
  containers:
    - name: app
      image: app
      env: [{name: A, value: "1"}]
`
	if _, err := decodeManifest([]byte(good)); err != nil {
		t.Fatalf("the valid pod: %v", err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown field", "restartPolicy: Always", "restartPolicyy: Always"},
		{"wrong case", "restartPolicy: Always", "RestartPolicy: Always"},
		{"duplicate key", "image: sluice:dev", "image: sluice:dev\n      image: other"},
		{"number for a string", `value: "1"`, "value: 1"},
		{"unknown kind", "kind: Pod", "kind: Pdo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if bad == good {
				t.Fatal("BUG: the case changes nothing")
			}
			if _, err := decodeManifest([]byte(bad)); err == nil {
				t.Errorf("decoded without error:\n%s", bad)
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// sluiceConfig is what these tests read of a ConfigMap's sluice.yaml: the
// settings the manifests and the iptables rules must agree with. (sluice's
// own -check-config judges the whole file: TestConfigMapsCheck.)
type sluiceConfig struct {
	Listen            string `json:"listen"`
	TransparentListen string `json:"transparent_listen"`
	Admin             string `json:"admin"`
	Timeouts          struct {
		Drain string `json:"drain"`
	} `json:"timeouts"`
	Drain struct {
		PreStopDelay string `json:"pre_stop_delay"`
	} `json:"drain"`
	Policy struct {
		ClientCIDRs []string `json:"client_cidrs"`
	} `json:"policy"`
}

// shutdown is how long sluice may take from SIGTERM to exit: the
// pre-stop delay and the drain (30s unless set).
func (c *sluiceConfig) shutdown(t *testing.T) time.Duration {
	t.Helper()
	drain, pre := 30*time.Second, time.Duration(0)
	var err error
	if c.Timeouts.Drain != "" {
		if drain, err = time.ParseDuration(c.Timeouts.Drain); err != nil {
			t.Fatalf("timeouts.drain: %v", err)
		}
	}
	if c.Drain.PreStopDelay != "" {
		if pre, err = time.ParseDuration(c.Drain.PreStopDelay); err != nil {
			t.Fatalf("drain.pre_stop_delay: %v", err)
		}
	}
	return pre + drain
}

func port(t *testing.T, what, hostport string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%s %q: %v", what, hostport, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		t.Fatalf("%s %q: %v", what, hostport, err)
	}
	return int32(n)
}

// mountedConfig finds the ConfigMap behind the -config argument of c in
// pod, and returns its sluice.yaml, raw and decoded.
func mountedConfig(t *testing.T, objs []runtime.Object, pod *corev1.PodSpec, c *corev1.Container) (string, *sluiceConfig) {
	t.Helper()
	i := slices.Index(c.Args, "-config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("container %s: no -config in args %q", c.Name, c.Args)
	}
	path := c.Args[i+1]
	var cmName, key string
	for _, m := range c.VolumeMounts {
		rest, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cmName, key = v.ConfigMap.Name, rest
			}
		}
	}
	if cmName == "" {
		t.Fatalf("container %s: -config %s is on no ConfigMap volume", c.Name, path)
	}
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Name == cmName {
			raw, ok := cm.Data[key]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s (-config %s)", cmName, key, path)
			}
			cfg := &sluiceConfig{}
			if err := yaml.Unmarshal([]byte(raw), cfg); err != nil {
				t.Fatalf("ConfigMap %s %s: %v", cmName, key, err)
			}
			return raw, cfg
		}
	}
	t.Fatalf("no ConfigMap %s in the manifest", cmName)
	return "", nil
}

// containerPort resolves a probe's or a Service's port (number or name)
// against c's ports.
func containerPort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	for _, cp := range c.Ports {
		if ((p.Type == intstr.Int) && cp.ContainerPort == p.IntVal) || (!(p.Type == intstr.Int) && cp.Name == p.StrVal) {
			return cp.ContainerPort
		}
	}
	if p.Type == intstr.Int {
		return p.IntVal // a probe may name a port the container does not declare
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

// checkProbes: liveness on /livez, readiness (and startup, when there) on
// /readyz, all on the admin port of the config.
func checkProbes(t *testing.T, c *corev1.Container, cfg *sluiceConfig) {
	t.Helper()
	admin := port(t, "admin", cfg.Admin)
	for _, p := range []struct {
		name, path string
		probe      *corev1.Probe
		required   bool
	}{
		{"livenessProbe", "/livez", c.LivenessProbe, true},
		{"readinessProbe", "/readyz", c.ReadinessProbe, true},
		{"startupProbe", "/readyz", c.StartupProbe, false},
	} {
		if p.probe == nil {
			if p.required {
				t.Errorf("container %s: no %s", c.Name, p.name)
			}
			continue
		}
		get := p.probe.HTTPGet
		if get == nil {
			t.Errorf("container %s: %s is not an HTTP GET", c.Name, p.name)
			continue
		}
		if get.Path != p.path {
			t.Errorf("container %s: %s on %s, want %s", c.Name, p.name, get.Path, p.path)
		}
		if got := containerPort(t, c, get.Port); got != admin {
			t.Errorf("container %s: %s on port %d, the admin listener is on %d", c.Name, p.name, got, admin)
		}
	}
	if host, _, _ := net.SplitHostPort(cfg.Admin); host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("admin: %q: kubelet probes the pod's IP, the admin listener must listen there", cfg.Admin)
	}
}

// checkSluiceSecurity: sluice runs as UID 65532, non-root, on a read-only
// root, with no capability and no way to gain one.
func checkSluiceSecurity(t *testing.T, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("container %s: no securityContext", c.Name)
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("container %s: runAsNonRoot is not true", c.Name)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != sluiceUID {
		t.Errorf("container %s: runAsUser is not %d", c.Name, sluiceUID)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %s: privileged", c.Name)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container %s: capabilities %+v, want drop [ALL] and nothing added", c.Name, sc.Capabilities)
	}
}

// checkGrace: the pod's grace period outlasts sluice's shutdown, or the
// kubelet's SIGKILL cuts requests in flight.
func checkGrace(t *testing.T, pod *corev1.PodSpec, cfg *sluiceConfig) {
	t.Helper()
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds (the default, 30s, is no more than the drain)")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if need := cfg.shutdown(t); grace <= need {
		t.Errorf("terminationGracePeriodSeconds %v <= pre_stop_delay + drain %v", grace, need)
	}
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func container(t *testing.T, cs []corev1.Container, name string) (int, *corev1.Container) {
	t.Helper()
	for i := range cs {
		if cs[i].Name == name {
			return i, &cs[i]
		}
	}
	t.Fatalf("no container %s", name)
	return 0, nil
}

func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("container %s: no %s in env", c.Name, name)
	return ""
}

func TestSidecar(t *testing.T) {
	objs := loadManifest(t, "kubernetes/sidecar.yaml")
	dep := only[*appsv1.Deployment](t, objs)
	pod := &dep.Spec.Template.Spec
	if !selects(t, dep.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("the Deployment's selector does not select its own pods")
	}

	// sluice: a native sidecar, i.e. an init container that restarts and
	// runs beside the app.
	si, sluice := container(t, pod.InitContainers, "sluice")
	if sluice.RestartPolicy == nil || *sluice.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sluice: restartPolicy %v, want Always (a native sidecar)", sluice.RestartPolicy)
	}
	if sluice.StartupProbe == nil {
		t.Errorf("sluice: no startupProbe: the app would start before sluice listens")
	}
	checkSluiceSecurity(t, sluice)
	raw, cfg := mountedConfig(t, objs, pod, sluice)
	checkProbes(t, sluice, cfg)
	checkGrace(t, pod, cfg)
	if !strings.Contains(raw, "\ntransparent_listen: ") && !strings.HasPrefix(raw, "transparent_listen: ") {
		t.Errorf("the config sets no top-level transparent_listen")
	}
	for what, addr := range map[string]string{"listen": cfg.Listen, "transparent_listen": cfg.TransparentListen} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("%s %q: want a loopback address, out of reach from outside the pod", what, addr)
		}
	}

	// The iptables init container: before sluice, runs to completion, the
	// only one with a capability.
	ii, ipt := container(t, pod.InitContainers, "sluice-iptables")
	if ii > si {
		t.Errorf("sluice-iptables runs after sluice: the rules must be in place before anything runs")
	}
	if ipt.RestartPolicy != nil {
		t.Errorf("sluice-iptables: restartPolicy %v: it must run once and exit", *ipt.RestartPolicy)
	}
	if got := ipt.Command; !slices.Equal(got, []string{iptablesInImage}) {
		t.Errorf("sluice-iptables: command %q, want [%s] (deploy/iptables.sh in the image)", got, iptablesInImage)
	}
	if sc := ipt.SecurityContext; sc == nil || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN"}) || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("sluice-iptables: want capabilities drop [ALL] add [NET_ADMIN]")
	} else if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("sluice-iptables: privileged")
	}
	// The rules it installs agree with sluice's UID and config.
	if got, want := envValue(t, ipt, "SLUICE_UID"), strconv.FormatInt(*sluice.SecurityContext.RunAsUser, 10); got != want {
		t.Errorf("SLUICE_UID %q: sluice runs as %s, its connections would loop", got, want)
	}
	if got, want := envValue(t, ipt, "SLUICE_REDIRECT_PORT"), port(t, "transparent_listen", cfg.TransparentListen); got != strconv.Itoa(int(want)) {
		t.Errorf("SLUICE_REDIRECT_PORT %q: transparent_listen is on port %d", got, want)
	}
	if got, want := envValue(t, ipt, "SLUICE_ADMIN_PORT"), port(t, "admin", cfg.Admin); got != strconv.Itoa(int(want)) {
		t.Errorf("SLUICE_ADMIN_PORT %q: the admin listener is on port %d", got, want)
	}

	// The app gains nothing that would let it around sluice.
	for i := range pod.Containers {
		c := &pod.Containers[i]
		sc := c.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == sluiceUID || *sc.RunAsUser == 0 {
			t.Errorf("container %s: must run as a UID of its own, not root and not sluice's %d (it would go out unproxied)", c.Name, sluiceUID)
		}
		if sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: adds capabilities %v (NET_ADMIN would let it remove the rules)", c.Name, sc.Capabilities.Add)
		}
	}
}

func TestEgressGateway(t *testing.T) {
	objs := loadManifest(t, "kubernetes/egress-gateway.yaml")
	dep := only[*appsv1.Deployment](t, objs)
	svc := only[*corev1.Service](t, objs)
	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	pod := &dep.Spec.Template.Spec
	podLabels := dep.Spec.Template.Labels

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want 2 or more", dep.Spec.Replicas)
	}
	if !selects(t, dep.Spec.Selector, podLabels) {
		t.Errorf("the Deployment's selector does not select its own pods")
	}
	_, sluice := container(t, pod.Containers, "sluice")
	checkSluiceSecurity(t, sluice)
	_, cfg := mountedConfig(t, objs, pod, sluice)
	checkProbes(t, sluice, cfg)
	checkGrace(t, pod, cfg)
	for _, c := range cfg.Policy.ClientCIDRs {
		if _, n, err := net.ParseCIDR(c); err == nil {
			if ones, _ := n.Mask.Size(); ones == 0 {
				t.Errorf("policy.client_cidrs has %s: an open proxy on the cluster's network and beyond", c)
			}
		}
	}

	// The Service reaches the proxy port of the pods.
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels) {
		t.Errorf("the Service's selector does not select the gateway's pods")
	}
	listen := port(t, "listen", cfg.Listen)
	var found bool
	for _, p := range svc.Spec.Ports {
		if p.Port == 3128 {
			found = true
			if got := containerPort(t, sluice, p.TargetPort); got != listen {
				t.Errorf("Service port 3128 -> container port %d, sluice listens on %d", got, listen)
			}
		}
	}
	if !found {
		t.Errorf("the Service has no port 3128")
	}

	// The PodDisruptionBudget keeps one replica through voluntary
	// disruptions, and can be met while one is evicted.
	if !selects(t, pdb.Spec.Selector, podLabels) {
		t.Errorf("the PodDisruptionBudget's selector does not select the gateway's pods")
	}
	if m := pdb.Spec.MinAvailable; m == nil || m.Type != intstr.Int || m.IntVal != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", m)
	} else if dep.Spec.Replicas != nil && m.IntVal >= *dep.Spec.Replicas {
		t.Errorf("minAvailable %d with %d replicas blocks every node drain", m.IntVal, *dep.Spec.Replicas)
	}
}

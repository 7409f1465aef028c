// Package deploy holds sluice's packaging: the Kubernetes manifests
// (kubernetes/), the systemd unit (systemd/), the transparent-redirect rules
// (iptables.sh) and the image build script (image.sh); the Dockerfile is at
// the repository's top.
//
// It is a module of its own so that its tests may decode the manifests into
// the Kubernetes API types (k8s.io/api) without sluice's go.mod depending on
// them. The tests check what a typo or a drifting number would break at
// deploy time: every manifest decodes strictly (an unknown or misspelt field
// is an error), sluice runs as a native sidecar with UID 65532, its probes
// reach /livez and /readyz on the admin port its config names, the grace
// period outlasts the drain, the iptables rules exempt sluice's UID and
// redirect to the transparent listener's port, and the systemd unit and
// Dockerfile say what they must. As root, in network namespaces of their own,
// they also run the rules, and the whole sidecar: the init container's
// script, then sluice with the ConfigMap's config, and an app's requests
// through it. `make test` runs them (test-deploy).
package deploy

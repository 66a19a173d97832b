package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const chartDir = "helm/protostar"

// kubeVersion is the Kubernetes version the chart is rendered for (its
// minimum: the API's preStop pause is the native sleep action).
const kubeVersion = "1.30.0"

// object is one rendered manifest; spec is decoded by kind.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

type workloadSpec struct { // Deployment, Job
	Replicas *int `yaml:"replicas"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
	RestartPolicy                 string `yaml:"restartPolicy"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
}

type port struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type mount struct {
	MountPath string `yaml:"mountPath"`
}

type container struct {
	Name           string   `yaml:"name"`
	Args           []string `yaml:"args"`
	Env            []envVar `yaml:"env"`
	Ports          []port   `yaml:"ports"`
	ReadinessProbe *probe   `yaml:"readinessProbe"`
	LivenessProbe  *probe   `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	SecurityContext struct {
		ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []mount `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

func (c container) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.Value != nil {
			return *e.Value
		}
	}
	return ""
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type selectorSpec struct { // PodDisruptionBudget
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
}

type scalerSpec struct { // ScaledObject, HorizontalPodAutoscaler
	ScaleTargetRef struct {
		Name string `yaml:"name"`
	} `yaml:"scaleTargetRef"`
	Triggers []struct {
		Type     string            `yaml:"type"`
		Metadata map[string]string `yaml:"metadata"`
	} `yaml:"triggers"`
	Metrics []struct {
		Type string `yaml:"type"`
	} `yaml:"metrics"`
}

type monitorSpec struct { // ServiceMonitor
	Endpoints []struct {
		Port string `yaml:"port"`
		Path string `yaml:"path"`
	} `yaml:"endpoints"`
}

type serviceSpec struct {
	Ports []struct {
		Name string `yaml:"name"`
	} `yaml:"ports"`
}

// rendered is a chart rendering, by kind and name.
type rendered map[string]map[string]object

func (r rendered) spec(t *testing.T, kind, name string, into any) {
	t.Helper()
	o, ok := r[kind][name]
	if !ok {
		t.Fatalf("no %s %s rendered; have %v", kind, name, r.names())
	}
	if err := o.Spec.Decode(into); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
}

func (r rendered) names() []string {
	var out []string
	for kind, objs := range r {
		for name := range objs {
			out = append(out, kind+"/"+name)
		}
	}
	slices.Sort(out)
	return out
}

// setupHelm returns the Helm binary, once the chart lints cleanly.
func setupHelm(t *testing.T) string {
	t.Helper()
	helm := tool(t, "PROTOSTAR_HELM", "the Helm binary: PROTOSTAR_HELM=$(scripts/helm.sh path)")
	out, err := exec.Command(helm, "lint", "--strict", chartDir, "--kube-version", kubeVersion,
		"--set", "existingSecret=protostar").CombinedOutput()
	if err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	return helm
}

// render runs helm template with the given --set values.
func render(helm string, sets ...string) (rendered, error) {
	args := []string{"template", "rel", chartDir, "--kube-version", kubeVersion}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w: %s", err, stderr.String())
	}
	r := rendered{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("parse rendered manifests: %w", err)
		}
		if o.Kind == "" {
			continue
		}
		if r[o.Kind] == nil {
			r[o.Kind] = map[string]object{}
		}
		r[o.Kind][o.Metadata.Name] = o
	}
	if bytes.Contains(out, []byte("canary")) {
		return nil, errors.New("a value meant for a secret appears in the rendered manifests")
	}
	return r, nil
}

// TestChartWorkloads: the api and worker Deployments have readiness and
// liveness probes on their ports, resource requests, a PodDisruptionBudget,
// a non-root read-only pod with a writable /tmp, and a grace period above
// the shutdown budget (plus the API's preStop pause), for the default
// budget and a raised one.
func TestChartWorkloads(t *testing.T) {
	helm := setupHelm(t)
	for _, shutdown := range []string{"", "120"} {
		var sets []string
		if shutdown != "" {
			sets = append(sets, "shutdownTimeoutSeconds="+shutdown)
		}
		r, err := render(helm, append(sets, "existingSecret=protostar")...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"api", "worker"} {
			t.Run(name+"/shutdown="+shutdown, func(t *testing.T) {
				var d workloadSpec
				r.spec(t, "Deployment", "rel-protostar-"+name, &d)
				checkPod(t, d.Template.Spec, "/readyz", "/healthz")
				c := d.Template.Spec.Containers[0]
				addrVar := map[string]string{"api": "PROTOSTAR_HTTP_ADDR", "worker": "PROTOSTAR_WORKER_HTTP_ADDR"}[name]
				_, port, _ := net.SplitHostPort(c.env(addrVar))
				if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port {
					t.Errorf("%s=%q, but the container's ports are %+v", addrVar, c.env(addrVar), c.Ports)
				}
				if shutdown != "" && c.env("PROTOSTAR_SHUTDOWN_TIMEOUT") != shutdown+"s" {
					t.Errorf("PROTOSTAR_SHUTDOWN_TIMEOUT = %q, want %ss", c.env("PROTOSTAR_SHUTDOWN_TIMEOUT"), shutdown)
				}
				var pdb selectorSpec
				r.spec(t, "PodDisruptionBudget", "rel-protostar-"+name, &pdb)
				for k, v := range pdb.Selector.MatchLabels {
					if d.Template.Metadata.Labels[k] != v {
						t.Errorf("the PodDisruptionBudget selects %s=%s, which the pods do not have", k, v)
					}
				}
			})
		}
	}
}

// checkPod checks a Deployment's pod: probes, requests, security and the
// grace period against the shutdown budget.
func checkPod(t *testing.T, p podSpec, ready, live string) {
	t.Helper()
	if len(p.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Containers))
	}
	c := p.Containers[0]
	for kind, want := range map[string]struct {
		p    *probe
		path string
	}{"readiness": {c.ReadinessProbe, ready}, "liveness": {c.LivenessProbe, live}} {
		if want.p == nil || want.p.HTTPGet.Path != want.path {
			t.Errorf("%s probe %+v, want GET %s", kind, want.p, want.path)
			continue
		}
		if !slices.ContainsFunc(c.Ports, func(cp port) bool { return cp.Name == want.p.HTTPGet.Port }) {
			t.Errorf("%s probe on port %q, which the container does not name", kind, want.p.HTTPGet.Port)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
		t.Errorf("resource requests %v, want cpu and memory", c.Resources.Requests)
	}
	if !p.SecurityContext.RunAsNonRoot || p.SecurityContext.RunAsUser == 0 || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("pod security %+v, container %+v: want non-root and a read-only root", p.SecurityContext, c.SecurityContext)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m mount) bool { return m.MountPath == "/tmp" }) {
		t.Errorf("no volume at /tmp: uploads spool there and the root is read-only")
	}
	shutdown, err := time.ParseDuration(c.env("PROTOSTAR_SHUTDOWN_TIMEOUT"))
	if err != nil {
		t.Fatalf("PROTOSTAR_SHUTDOWN_TIMEOUT: %v", err)
	}
	budget := shutdown + time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second
	if p.TerminationGracePeriodSeconds == nil || time.Duration(*p.TerminationGracePeriodSeconds)*time.Second <= budget {
		t.Errorf("terminationGracePeriodSeconds %v must be above the shutdown timeout and the preStop pause (%s): SIGKILL would cut running jobs",
			p.TerminationGracePeriodSeconds, budget)
	}
}

// TestChartSecrets: secrets come only from the existing Secret, by
// reference; the chart renders no Secret, refuses secrets in values and
// needs the Secret's name; every PROTOSTAR_* variable it sets exists.
func TestChartSecrets(t *testing.T) {
	helm := setupHelm(t)
	vars := configVars(t)
	r, err := render(helm, "existingSecret=protostar-secrets", "config.PROTOSTAR_EMBED_PROVIDER=openai")
	if err != nil {
		t.Fatal(err)
	}
	if len(r["Secret"]) > 0 {
		t.Errorf("the chart renders Secrets %v; it must only reference an existing one", r["Secret"])
	}
	pods := map[string]podSpec{}
	for _, kind := range []string{"Deployment", "Job"} {
		for name := range r[kind] {
			var w workloadSpec
			r.spec(t, kind, name, &w)
			pods[kind+"/"+name] = w.Template.Spec
		}
	}
	if len(pods) != 3 {
		t.Fatalf("pods of %v, want the api, worker and migrate", slices.Sorted(maps.Keys(pods)))
	}
	for name, p := range pods {
		seen := map[string]bool{}
		for _, e := range p.Containers[0].Env {
			seen[e.Name] = true
			v, ok := vars[e.Name]
			switch {
			case strings.HasPrefix(e.Name, "PROTOSTAR_") && !ok:
				t.Errorf("%s sets %s, which config.Config does not have", name, e.Name)
			case v.Secret != "" && (e.Value != nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
				e.ValueFrom.SecretKeyRef.Name != "protostar-secrets" || e.ValueFrom.SecretKeyRef.Key != e.Name):
				t.Errorf("%s: %s must come from the Secret protostar-secrets, key %s", name, e.Name, e.Name)
			}
		}
		for _, must := range []string{"PROTOSTAR_DATABASE_URL", "PROTOSTAR_REDIS_URL", "PROTOSTAR_S3_SECRET_KEY", "PROTOSTAR_SECRET_KEY", "PROTOSTAR_EMBED_PROVIDER"} {
			if !seen[must] {
				t.Errorf("%s does not set %s", name, must)
			}
		}
	}
}

// TestChartMigrationHook: `protostar migrate up` runs as a pre-install and
// pre-upgrade hook, so before the Deployments roll.
func TestChartMigrationHook(t *testing.T) {
	helm := setupHelm(t)
	r, err := render(helm, "existingSecret=protostar")
	if err != nil {
		t.Fatal(err)
	}
	job := r["Job"]["rel-protostar-migrate"]
	hooks := strings.Split(job.Metadata.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-install") || !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("migration Job hooks %q, want pre-install and pre-upgrade", hooks)
	}
	if !strings.Contains(job.Metadata.Annotations["helm.sh/hook-delete-policy"], "before-hook-creation") {
		t.Errorf("hook-delete-policy %q: the next release could not create its Job", job.Metadata.Annotations["helm.sh/hook-delete-policy"])
	}
	var w workloadSpec
	r.spec(t, "Job", "rel-protostar-migrate", &w)
	if c := w.Template.Spec.Containers[0]; !slices.Equal(c.Args, []string{"migrate", "up"}) {
		t.Errorf("migration Job runs %q, want migrate up", c.Args)
	}
	if w.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy %q, want Never (the Job retries)", w.Template.Spec.RestartPolicy)
	}
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		for name, o := range r[kind] {
			if o.Metadata.Annotations["helm.sh/hook"] != "" {
				t.Errorf("%s %s is a hook; only the migration is", kind, name)
			}
		}
	}
}

// TestChartValues: the ServiceMonitor and the two ways to autoscale the
// workers on the job backlog; and values that would leak a secret, bypass
// the shutdown budget, or that the chart does not know, which stop the
// rendering with a message saying why.
func TestChartValues(t *testing.T) {
	helm := setupHelm(t)
	const secret = "existingSecret=protostar"
	tests := []struct {
		name    string
		sets    []string
		refused string // the rendering fails saying this
		check   func(t *testing.T, r rendered)
	}{
		{name: "no secret named", refused: "existingSecret is required"},
		{name: "a secret in values", sets: []string{secret, "config.PROTOSTAR_OPENAI_API_KEY=sk-canary"}, refused: "is a secret"},
		{name: "a URL with a password in values", sets: []string{secret, "config.PROTOSTAR_DATABASE_URL=postgres://u:canary@db/x"}, refused: "is a secret"},
		{name: "the shutdown budget bypassed", sets: []string{secret, "config.PROTOSTAR_SHUTDOWN_TIMEOUT=5m"}, refused: "shutdownTimeoutSeconds"},
		{name: "both autoscalers", sets: []string{secret, "autoscaling.keda.enabled=true", "autoscaling.hpa.enabled=true"}, refused: "at most one"},
		{name: "a misspelt value", sets: []string{secret, "worker.replica=3"}, refused: "'replica' not allowed"},
		{name: "a setting not named as a variable", sets: []string{secret, "config.embedProvider=openai"}, refused: "invalid propertyName"},
		{name: "defaults: fixed workers, no monitor", sets: []string{secret}, check: func(t *testing.T, r rendered) {
			var d workloadSpec
			r.spec(t, "Deployment", "rel-protostar-worker", &d)
			if d.Replicas == nil || *d.Replicas < 2 {
				t.Errorf("worker replicas %v, want 2", d.Replicas)
			}
			if len(r["ScaledObject"])+len(r["HorizontalPodAutoscaler"])+len(r["ServiceMonitor"]) > 0 {
				t.Errorf("optional objects rendered by default: %v", r.names())
			}
		}},
		{name: "keda", sets: []string{secret, "autoscaling.keda.enabled=true"}, check: func(t *testing.T, r rendered) {
			var s scalerSpec
			r.spec(t, "ScaledObject", "rel-protostar-worker", &s)
			if s.ScaleTargetRef.Name != "rel-protostar-worker" || len(s.Triggers) != 1 || s.Triggers[0].Type != "prometheus" {
				t.Fatalf("ScaledObject %+v, want a prometheus trigger on the worker Deployment", s)
			}
			if q := s.Triggers[0].Metadata["query"]; !strings.Contains(q, "protostar_jobs{") || !strings.Contains(q, "queued") {
				t.Errorf("query %q, want the queued jobs of protostar_jobs", q)
			}
			checkUnpinned(t, r)
		}},
		{name: "hpa", sets: []string{secret, "autoscaling.hpa.enabled=true"}, check: func(t *testing.T, r rendered) {
			var s scalerSpec
			r.spec(t, "HorizontalPodAutoscaler", "rel-protostar-worker", &s)
			if s.ScaleTargetRef.Name != "rel-protostar-worker" || len(s.Metrics) != 1 || s.Metrics[0].Type != "External" {
				t.Errorf("HPA %+v, want an external metric on the worker Deployment", s)
			}
			checkUnpinned(t, r)
		}},
		{name: "service monitor", sets: []string{secret, "serviceMonitor.enabled=true"}, check: func(t *testing.T, r rendered) {
			var m monitorSpec
			r.spec(t, "ServiceMonitor", "rel-protostar", &m)
			if len(m.Endpoints) != 1 || m.Endpoints[0].Path != "/metrics" {
				t.Fatalf("ServiceMonitor endpoints %+v, want /metrics", m.Endpoints)
			}
			for _, name := range []string{"rel-protostar-api", "rel-protostar-worker"} {
				var s serviceSpec
				r.spec(t, "Service", name, &s)
				if len(s.Ports) == 0 || s.Ports[0].Name != m.Endpoints[0].Port {
					t.Errorf("Service %s ports %+v lack the monitored port %q", name, s.Ports, m.Endpoints[0].Port)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := render(helm, tt.sets...)
			switch {
			case tt.refused != "":
				if err == nil || !strings.Contains(err.Error(), tt.refused) {
					t.Errorf("helm template %v: %v, want a failure saying %q", tt.sets, err, tt.refused)
				}
			case err != nil:
				t.Fatal(err)
			default:
				tt.check(t, r)
			}
		})
	}
}

// checkUnpinned: an autoscaled Deployment leaves replicas to the scaler
// (a replicas field would reset it on every upgrade).
func checkUnpinned(t *testing.T, r rendered) {
	t.Helper()
	var d workloadSpec
	r.spec(t, "Deployment", "rel-protostar-worker", &d)
	if d.Replicas != nil {
		t.Errorf("autoscaled worker Deployment pins replicas: %d", *d.Replicas)
	}
}

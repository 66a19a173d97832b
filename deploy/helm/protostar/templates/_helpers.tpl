{{/* Names and labels. */}}
{{- define "protostar.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "protostar.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "protostar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "protostar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "protostar.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "api"). */}}
{{- define "protostar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "protostar.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "protostar.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "protostar.image" -}}
{{ printf "%s:%s" .Values.image.repository (include "protostar.tag" .) }}
{{- end -}}

{{/* Variables that only the existing Secret may hold; the first two are required. */}}
{{- define "protostar.secretVars" -}}
PROTOSTAR_DATABASE_URL PROTOSTAR_REDIS_URL PROTOSTAR_S3_ACCESS_KEY PROTOSTAR_S3_SECRET_KEY PROTOSTAR_S3_EVENTS_TOKEN PROTOSTAR_SECRET_KEY PROTOSTAR_OPENAI_API_KEY PROTOSTAR_API_KEYS
{{- end -}}

{{/*
The environment of every protostar container: settings from values.config,
the shutdown budget and listen address the chart derives, and the secrets
from the existing Secret. Refuses secrets and derived settings in config.
*/}}
{{- define "protostar.env" -}}
{{- $secret := required "existingSecret is required: create a Secret with PROTOSTAR_DATABASE_URL, PROTOSTAR_REDIS_URL, ... (see values.yaml); the chart never renders secrets" .Values.existingSecret -}}
{{- $secretVars := splitList " " (include "protostar.secretVars" .) -}}
{{- range $name, $value := .Values.config }}
{{- if has $name $secretVars }}
{{- fail (printf "config.%s is a secret: put it in the Secret %q, never in values" $name $secret) }}
{{- end }}
{{- if has $name (list "PROTOSTAR_SHUTDOWN_TIMEOUT" "PROTOSTAR_HTTP_ADDR" "PROTOSTAR_WORKER_HTTP_ADDR") }}
{{- fail (printf "config.%s is set by the chart: use shutdownTimeoutSeconds, api.port or worker.port" $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
- name: PROTOSTAR_SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int .Values.shutdownTimeoutSeconds) | quote }}
- name: PROTOSTAR_HTTP_ADDR
  value: {{ printf "0.0.0.0:%d" (int .Values.api.port) | quote }}
{{- range $i, $name := $secretVars }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $name }}
      optional: {{ ge $i 2 }}
{{- end }}
{{- end -}}

{{- define "protostar.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "protostar.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Seconds Kubernetes waits after SIGTERM: above the shutdown budget. */}}
{{- define "protostar.gracePeriod" -}}
{{- add (int .root.Values.shutdownTimeoutSeconds) (int .root.Values.terminationGraceExtraSeconds) (int .preStop) -}}
{{- end -}}

{{- define "protostar.checks" -}}
{{- if and .Values.autoscaling.keda.enabled .Values.autoscaling.hpa.enabled }}
{{- fail "enable at most one of autoscaling.keda and autoscaling.hpa" }}
{{- end }}
{{- if lt (int .Values.shutdownTimeoutSeconds) 1 }}
{{- fail "shutdownTimeoutSeconds must be at least 1" }}
{{- end }}
{{- if lt (int .Values.terminationGraceExtraSeconds) 5 }}
{{- fail "terminationGraceExtraSeconds must be at least 5: the process needs time after its shutdown budget to close its pools" }}
{{- end }}
{{- end -}}

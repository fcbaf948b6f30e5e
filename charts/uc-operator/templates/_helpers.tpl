{{/* The chart name, overridable. */}}
{{- define "uc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-derived name of every namespaced object. */}}
{{- define "uc-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped names carry the namespace too: two releases of the same name in two
namespaces must not share a ClusterRole. */}}
{{- define "uc-operator.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "uc-operator.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "uc-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "uc-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "uc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "uc-operator.labels" -}}
helm.sh/chart: {{ include "uc-operator.chart" . }}
{{ include "uc-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: uc-operator
{{- end }}

{{- define "uc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "uc-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "uc-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when several replicas (or the value) ask for leader election. */}}
{{- define "uc-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end }}

{{/* The Lease lives in the release namespace and is named after the release, so two releases
never contend for one Lease. */}}
{{- define "uc-operator.leaseName" -}}
{{- include "uc-operator.fullname" . }}
{{- end }}

{{/* The RoleBinding that grants the operator its rights in the watched namespace. */}}
{{- define "uc-operator.watchBinding" -}}
{{- printf "%s-watched" (include "uc-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The namespace the watched resources live in (the RBAC target in namespaced mode). */}}
{{- define "uc-operator.rbacRules" -}}
- apiGroups: ["uc-operator.dev"]
  resources: ["databricksintegrations"]
  # patch: adds and removes the finalizer.
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["uc-operator.dev"]
  resources: ["databricksintegrations/status"]
  verbs: ["get", "patch"]
- apiGroups: ["uc-operator.dev"]
  resources: ["databricksintegrations/finalizers"]
  # Owner references with blockOwnerDeletion on the setup ConfigMap need this.
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  # Read only: credentials referenced by the resources, watched for rotation.
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  # The manual setup script ConfigMaps (<name>-uc-setup), owned by their resource, written with
  # server-side apply (create and patch). They are never deleted by the operator: garbage
  # collection follows the owner reference.
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.workloadIdentity.enabled }}
- apiGroups: [""]
  resources: ["serviceaccounts"]
  # workloadIdentity: the named ServiceAccount's opt-in label and allowed-hosts annotation.
  verbs: ["get"]
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  # workloadIdentity: a 10-minute token of an opted-in ServiceAccount, for an audience the API
  # server does not accept (docs/security.md).
  verbs: ["create"]
{{- end }}
{{- end }}

{{/* The operator's own series: scraped through the metrics Service (the ServiceMonitor's job). */}}
{{- define "uc-operator.operatorSelector" -}}
{{- default (printf "job=%q, namespace=%q" (printf "%s-metrics" (include "uc-operator.fullname" .)) .Release.Namespace) .Values.prometheusRule.operatorSelector }}
{{- end }}

{{/* credentialWarning (e.g. 14d, 36h) in seconds, for the alert's threshold. */}}
{{- define "uc-operator.credentialWarningSeconds" -}}
{{- $v := .Values.credentialWarning }}
{{- $unit := dict "s" 1 "m" 60 "h" 3600 "d" 86400 }}
{{- mul (int (trimSuffix (regexFind "[smhd]$" $v) $v)) (get $unit (regexFind "[smhd]$" $v)) }}
{{- end }}

{{/* resources.limits.memory (e.g. 256Mi, 1Gi, 300M, 268435456) in MiB; 0 when there is none. */}}
{{- define "uc-operator.memoryLimitMiB" -}}
{{- $v := toString (dig "limits" "memory" "" (.Values.resources | default dict)) }}
{{- if $v }}
{{- $n := regexFind "^[0-9]+" $v }}
{{- $kib := dict "" 0 "Ki" 1 "k" 1 "Mi" 1024 "M" 977 "Gi" 1048576 "G" 976563 "Ti" 1073741824 }}
{{- $unit := trimPrefix $n $v }}
{{- if eq $unit "" }}{{ div (int64 $n) 1048576 }}
{{- else }}{{ div (mul (int64 $n) (get $kib $unit)) 1024 }}
{{- end }}
{{- else }}0
{{- end }}
{{- end }}

{{/* --concurrency: the value when set; otherwise sized against the memory limit (docs/helm.md):
96 MiB stay for the cache (10,000 integrations) and the process-wide 32 MiB budget for response
bodies, then one worker per MiB, between 8 and 128. Without a limit, the binary's default. */}}
{{- define "uc-operator.concurrency" -}}
{{- if .Values.concurrency }}{{ .Values.concurrency }}
{{- else }}
{{- $mib := int64 (include "uc-operator.memoryLimitMiB" .) }}
{{- if gt $mib 0 }}{{ max 8 (min 128 (sub $mib 96)) }}{{ end }}
{{- end }}
{{- end }}

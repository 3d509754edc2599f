{{/*
Names are fixed, not derived from the release name: the agent and the CA look up the Secret
weft-ca, the ConfigMap weft-trust-bundle and the Service weft-ca by these names, and the
ClusterRoles are cluster-wide, so one cluster runs one Weft installation.
*/}}
{{- define "weft.agentName" -}}weft-agent{{- end -}}
{{- define "weft.caName" -}}weft-ca{{- end -}}
{{- define "weft.controllerName" -}}weft-controller{{- end -}}
{{- define "weft.trustBundleName" -}}weft-trust-bundle{{- end -}}

{{/* Chart name and version as the helm.sh/chart label wants them. */}}
{{- define "weft.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "weft.labels" -}}
helm.sh/chart: {{ include "weft.chart" . }}
app.kubernetes.io/name: weft
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weft
{{- end -}}

{{/* Selector labels of one component (agent or ca); never change them: selectors are immutable. */}}
{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: weft
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one component's objects and pods. */}}
{{- define "weft.componentLabels" -}}
{{ include "weft.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image both pods run. */}}
{{- define "weft.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if hasPrefix "@" $tag -}}
{{- printf "%s%s" .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The CA's address as agents dial it (resolved through the API, so no cluster DNS is needed). */}}
{{- define "weft.caAddress" -}}
{{- printf "%s.%s.svc:15012" (include "weft.caName" .) .Release.Namespace -}}
{{- end -}}

{{/* The service account the CA accepts certificate requests from. */}}
{{- define "weft.agentServiceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "weft.agentName" .) -}}
{{- end -}}

{{/*
Seconds in a duration such as 24h, 90m or 1h30m (the schema guarantees the shape); the same
arithmetic as agent/src/config/duration.ts.
*/}}
{{- define "weft.durationSeconds" -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+[hms]" . -1 -}}
{{- $amount := trimSuffix "h" (trimSuffix "m" (trimSuffix "s" .)) | atoi -}}
{{- $unit := 1 -}}
{{- if hasSuffix "h" . }}{{ $unit = 3600 }}{{ else if hasSuffix "m" . }}{{ $unit = 60 }}{{ end -}}
{{- $total = add $total (mul $amount $unit) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* The CA's longest lifetime: ca.maxTtl, or certTtl when empty. */}}
{{- define "weft.caMaxTtl" -}}
{{- .Values.ca.maxTtl | default .Values.certTtl -}}
{{- end -}}

{{/*
Rules the JSON schema cannot express, checked once so a bad combination fails `helm install`
instead of a pod crash-looping: the lifetimes both weft agent and weft ca refuse.
*/}}
{{- define "weft.validateValues" -}}
{{- $ttl := include "weft.durationSeconds" .Values.certTtl | atoi -}}
{{- if lt $ttl 60 -}}
{{- fail (printf "certTtl must be at least 60s (weft agent and weft ca refuse shorter lifetimes), got %q" .Values.certTtl) -}}
{{- end -}}
{{- $max := include "weft.durationSeconds" (include "weft.caMaxTtl" .) | atoi -}}
{{- if lt $max $ttl -}}
{{- fail (printf "ca.maxTtl (%s) must not be shorter than certTtl (%s): weft ca refuses a default lifetime above its maximum" .Values.ca.maxTtl .Values.certTtl) -}}
{{- end -}}
{{- $surge := not (has (toString .Values.agent.maxSurge) (list "0" "0%")) -}}
{{- $unavailable := not (has (toString .Values.agent.maxUnavailable) (list "0" "0%")) -}}
{{- if and $surge $unavailable -}}
{{- fail (printf "agent.maxSurge (%v) and agent.maxUnavailable (%v): exactly one must be non-zero (Kubernetes refuses a DaemonSet that sets both); set agent.maxSurge=0 to replace agents instead of surging" .Values.agent.maxSurge .Values.agent.maxUnavailable) -}}
{{- end -}}
{{- if not (or $surge $unavailable) -}}
{{- fail "agent.maxSurge and agent.maxUnavailable are both 0: exactly one must be non-zero, or an upgrade never proceeds" -}}
{{- end -}}
{{- if ge (include "weft.durationSeconds" .Values.agent.drainTimeout | atoi) (int .Values.agent.terminationGracePeriodSeconds) -}}
{{- fail (printf "agent.drainTimeout (%s) must be shorter than agent.terminationGracePeriodSeconds (%v): the kubelet kills the agent at the end of the grace period" .Values.agent.drainTimeout .Values.agent.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
When the certificate-expiry alert fires: a quarter of certTtl (agents renew at half of it, so a
quarter left means renewals have failed for a while), at most 3 hours.
*/}}
{{- define "weft.certExpiryAlertSeconds" -}}
{{- $ttl := include "weft.durationSeconds" .Values.certTtl | atoi -}}
{{- min 10800 (div $ttl 4) -}}
{{- end -}}

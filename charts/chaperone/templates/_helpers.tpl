{{/* Names, labels and derived values shared by every template of the chaperone chart. */}}

{{- define "chaperone.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; component names append -control-plane / -webhook, so keep room. */}}
{{- define "chaperone.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chaperone.controlPlane.fullname" -}}{{ include "chaperone.fullname" . }}-control-plane{{- end -}}
{{- define "chaperone.webhook.fullname" -}}{{ include "chaperone.fullname" . }}-webhook{{- end -}}

{{- define "chaperone.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "chaperone.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chaperone
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "root" $ "component" "control-plane"). */}}
{{- define "chaperone.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaperone.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chaperone.componentLabels" -}}
{{ include "chaperone.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chaperone.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "chaperone.sidecarImage" -}}
{{- $i := .Values.webhook.sidecar.image -}}
{{- printf "%s:%s" (default .Values.image.repository $i.repository) (default (default .Chart.AppVersion .Values.image.tag) $i.tag) -}}
{{- end -}}

{{/* The URL sidecars use to reach the control plane, through its Service. */}}
{{- define "chaperone.controlPlane.url" -}}
{{- $scheme := ternary "https" "http" (ne .Values.controlPlane.tls.secretName "") -}}
{{- printf "%s://%s.%s.svc:%d" $scheme (include "chaperone.controlPlane.fullname" .) .Release.Namespace (int .Values.controlPlane.port) -}}
{{- end -}}

{{- define "chaperone.policy.configMapName" -}}
{{- default (printf "%s-policy" (include "chaperone.controlPlane.fullname" .)) .Values.controlPlane.policy.existingConfigMap -}}
{{- end -}}

{{/* Secrets the control plane may read: credentials.secretNames plus every Connection's secretRef
     in policy.documents whose namespace is the release namespace (or unset). Newline-separated. */}}
{{- define "chaperone.controlPlane.secretNames" -}}
{{- $names := list -}}
{{- range .Values.controlPlane.credentials.secretNames -}}
{{- $names = append $names . -}}
{{- end -}}
{{- range .Values.controlPlane.policy.documents -}}
{{- if eq (toString .kind) "Connection" -}}
{{- $ref := dig "spec" "credentials" "secretRef" dict . -}}
{{- if and $ref.name (or (not $ref.namespace) (eq (toString $ref.namespace) $.Release.Namespace)) -}}
{{- $names = append $names $ref.name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $names | uniq | sortAlpha | join "\n" -}}
{{- end -}}

{{/* Service accounts whose tokens the control plane requests (TokenRequest) for kubernetes
     Connections: credentials.serviceAccounts plus every Connection's credentials.serviceAccount in
     policy.documents. JSON: {"<namespace>": ["<name>", …]}, names sorted and unique. */}}
{{- define "chaperone.controlPlane.tokenAccounts" -}}
{{- $byNs := dict -}}
{{- $refs := list -}}
{{- range .Values.controlPlane.credentials.serviceAccounts -}}
{{- $refs = append $refs . -}}
{{- end -}}
{{- range .Values.controlPlane.policy.documents -}}
{{- if eq (toString .kind) "Connection" -}}
{{- $ref := dig "spec" "credentials" "serviceAccount" dict . -}}
{{- if and $ref.name $ref.namespace -}}
{{- $refs = append $refs $ref -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $refs -}}
{{- $ns := toString .namespace -}}
{{- $_ := set $byNs $ns (append (get $byNs $ns | default list) (toString .name) | uniq | sortAlpha) -}}
{{- end -}}
{{- $byNs | toJson -}}
{{- end -}}

{{/* "true" when the control plane needs to read pods (AccessPolicy subjects with a podSelector). */}}
{{- define "chaperone.controlPlane.readPods" -}}
{{- $mode := .Values.controlPlane.rbac.readPods -}}
{{- if eq $mode "always" -}}true
{{- else if eq $mode "auto" -}}
{{- if .Values.controlPlane.policy.existingConfigMap -}}true
{{- else if contains "podSelector" (toYaml .Values.controlPlane.policy.documents) -}}true
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The webhook's Connection map: policy.documents' Connections, then webhook.connections. */}}
{{- define "chaperone.webhook.connections" -}}
{{- $out := dict -}}
{{- range .Values.controlPlane.policy.documents -}}
{{- if and (eq (toString .kind) "Connection") (dig "spec" "listen" "port" nil .) -}}
{{- $_ := set $out .metadata.name (dict "type" .spec.type "port" .spec.listen.port) -}}
{{- end -}}
{{- end -}}
{{- toYaml (merge (deepCopy .Values.webhook.connections) $out) -}}
{{- end -}}

{{- define "chaperone.webhook.configName" -}}{{ include "chaperone.webhook.fullname" . }}{{- end -}}

{{- define "chaperone.webhook.caSecretName" -}}
{{- default (printf "%s-ca" (include "chaperone.webhook.fullname" .)) .Values.webhook.tls.caSecretName -}}
{{- end -}}

{{/* Refusals of value combinations the schema cannot express; rendered by every manifest's first use. */}}
{{- define "chaperone.validate" -}}
{{- $cp := .Values.controlPlane -}}
{{- if and (eq $cp.database.mode "embedded") (gt (int $cp.replicas) 1) -}}
{{- fail (printf "controlPlane.replicas is %d but the embedded store (controlPlane.database.mode: embedded) runs one PostgreSQL on one ReadWriteOnce volume: set controlPlane.replicas: 1, or use controlPlane.database.mode: external" (int $cp.replicas)) -}}
{{- end -}}
{{- if and (eq $cp.database.mode "external") (not $cp.database.external.secretName) -}}
{{- fail "controlPlane.database.mode is external: set controlPlane.database.external.secretName (a Secret holding the PostgreSQL URL under controlPlane.database.external.secretKey)" -}}
{{- end -}}
{{- if and $cp.policy.existingConfigMap $cp.policy.documents -}}
{{- fail "set controlPlane.policy.documents or controlPlane.policy.existingConfigMap, not both" -}}
{{- end -}}
{{- if and $cp.identity.jwksUrl (not $cp.identity.issuer) -}}
{{- fail "controlPlane.identity.jwksUrl needs controlPlane.identity.issuer (the cluster's --service-account-issuer)" -}}
{{- end -}}
{{- if and (ne $cp.identity.mode "jwks") (or $cp.identity.jwksUrl $cp.identity.issuer) -}}
{{- fail "controlPlane.identity.jwksUrl and issuer are only for controlPlane.identity.mode: jwks" -}}
{{- end -}}
{{- if ne (empty $cp.approvals.oidc.issuer) (empty $cp.approvals.oidc.clientId) -}}
{{- fail "controlPlane.approvals.oidc: set issuer and clientId together (the approvers' OIDC issuer and the client id their ID tokens are issued to)" -}}
{{- end -}}
{{- if and (or $cp.approvals.oidc.groupsClaim $cp.approvals.oidc.usernameClaim) (not $cp.approvals.oidc.issuer) -}}
{{- fail "controlPlane.approvals.oidc.groupsClaim and usernameClaim need controlPlane.approvals.oidc.issuer and clientId" -}}
{{- end -}}
{{- if and (eq .Values.webhook.tls.mode "secret") (not .Values.webhook.tls.secretName) -}}
{{- fail "webhook.tls.mode is secret: set webhook.tls.secretName (a kubernetes.io/tls Secret with ca.crt, e.g. from cert-manager)" -}}
{{- end -}}
{{- if not (or .Values.webhook.selector.namespaceLabel .Values.webhook.selector.podLabel) -}}
{{- fail "webhook.selector: keep namespaceLabel or podLabel on, or every pod of the cluster would go through the webhook" -}}
{{- end -}}
{{- end -}}

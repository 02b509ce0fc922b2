{{/* Names and labels shared by every template. */}}
{{- define "nomad-singleton.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains "nomad-singleton" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-nomad-singleton" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nomad-singleton.selectorLabels" -}}
app.kubernetes.io/name: nomad-singleton
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nomad-singleton.labels" -}}
{{ include "nomad-singleton.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nomad-singleton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nomad-singleton.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nomad-singleton.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret holding the Nomad ACL token (created by the chart only with nomad.token.create). */}}
{{- define "nomad-singleton.tokenSecret" -}}
{{- default (printf "%s-nomad-token" (include "nomad-singleton.fullname" .)) .Values.nomad.token.secretName -}}
{{- end -}}

{{- define "nomad-singleton.specsConfigMap" -}}
{{- default (printf "%s-specs" (include "nomad-singleton.fullname" .)) .Values.specs.configMap.name -}}
{{- end -}}

{{/* Where the controller reads its specs. */}}
{{- define "nomad-singleton.specsDir" -}}
{{- if eq .Values.specs.source "gitSync" -}}
{{- printf "/specs/current/%s" (.Values.specs.gitSync.path | trimPrefix "/") | trimSuffix "/" -}}
{{- else -}}
/specs
{{- end -}}
{{- end -}}

{{/* git-sync's arguments shared by the init container (--one-time) and the sidecar. */}}
{{- define "nomad-singleton.gitSyncArgs" -}}
{{- $g := .Values.specs.gitSync -}}
- --repo={{ required "specs.gitSync.repo is required when specs.source is gitSync" $g.repo }}
- --ref={{ $g.ref }}
- --root=/specs
- --link=current
- --depth={{ $g.depth }}
{{- with $g.credentials }}
{{- if .secretName }}
{{- if eq .type "ssh" }}
- --ssh-key-file=/etc/git-secret/{{ .sshKeyKey }}
{{- if .knownHostsKey }}
- --ssh-known-hosts-file=/etc/git-secret/{{ .knownHostsKey }}
{{- else }}
- --ssh-known-hosts=false
{{- end }}
{{- else }}
- --username={{ required "specs.gitSync.credentials.username is required for type basic" .username }}
- --password-file=/etc/git-secret/{{ .passwordKey }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Name of the chart, or nameOverride. */}}
{{- define "actlog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it contains the chart name, else release-chart. Kept short enough for component suffixes. */}}
{{- define "actlog.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "actlog.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "actlog.labels" -}}
helm.sh/chart: {{ include "actlog.chart" . }}
app.kubernetes.io/name: {{ include "actlog.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: actlog
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "ingest"). */}}
{{- define "actlog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "actlog.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects. */}}
{{- define "actlog.componentLabels" -}}
{{ include "actlog.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "actlog.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "actlog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "actlog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret of the environment secrets (admin token, SASL password). */}}
{{- define "actlog.secretName" -}}
{{- default (printf "%s-secrets" (include "actlog.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* The Secret holding the configuration file with the sources (ingest, serve). */}}
{{- define "actlog.configSecretName" -}}
{{- printf "%s-sources" (include "actlog.fullname" .) }}
{{- end }}

{{/* The ConfigMap of the configuration file without secrets (process). */}}
{{- define "actlog.configMapName" -}}
{{- printf "%s-config" (include "actlog.fullname" .) }}
{{- end }}

{{- define "actlog.saslMechanism" -}}
{{- if eq .Values.mode "kafka" }}
{{- lower (default "" ((.Values.config.kafka | default dict).sasl | default dict).mechanism) }}
{{- end }}
{{- end }}

{{/* "true" when actlog needs ACTLOG_KAFKA_SASL_PASSWORD. */}}
{{- define "actlog.needsSaslPassword" -}}
{{- $m := include "actlog.saslMechanism" . }}
{{- if or (eq $m "plain") (hasPrefix "scram-" $m) }}true{{ end }}
{{- end }}

{{/* The store component's values: process in Kafka mode, serve embedded. */}}
{{- define "actlog.storeValues" -}}
{{- if eq .Values.mode "embedded" }}{{ toYaml .Values.serve }}{{ else }}{{ toYaml .Values.process }}{{ end }}
{{- end }}

{{/* Bytes of a Kubernetes memory quantity with a binary or decimal suffix (Ki Mi Gi Ti, k M G T) or none. */}}
{{- define "actlog.memoryBytes" -}}
{{- $q := toString . }}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 }}
{{- if regexMatch "^[0-9]+$" $q }}
{{- $q }}
{{- else if regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)$" $q }}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|k|M|G|T)$" $q }}
{{- mul (int64 (trimSuffix $unit $q)) (index $units $unit) }}
{{- else }}
{{- fail (printf "cannot size DuckDB from the memory limit %q: use a whole number with Ki, Mi, Gi, k, M or G, or set config.store.memory_limit" $q) }}
{{- end }}
{{- end }}

{{/* Whole cores of a CPU quantity ("2", "1500m"), at least 1. */}}
{{- define "actlog.cpuCores" -}}
{{- $q := toString . }}
{{- $cores := 1 }}
{{- if regexMatch "^[0-9]+m$" $q }}
{{- $cores = div (int64 (trimSuffix "m" $q)) 1000 }}
{{- else if regexMatch "^[0-9]+$" $q }}
{{- $cores = int64 $q }}
{{- else if regexMatch "^[0-9]+\\.[0-9]+$" $q }}
{{- $cores = int64 (floor (float64 $q)) }}
{{- end }}
{{- max 1 $cores }}
{{- end }}

{{/*
The configuration file without secrets, as YAML: config, with listen and
data_dir set by the chart, store.memory_limit and store.threads derived from
the store container's limits when unset, and no kafka section in embedded
mode.
*/}}
{{- define "actlog.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- range $k := list "sources" "admin_token" "listen" "data_dir" }}
{{- if hasKey $cfg $k }}{{ fail (printf "config.%s is set by the chart: remove it from config (sources: the top-level sources value; admin_token: secrets)" $k) }}{{ end }}
{{- end }}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) }}
{{- $_ := set $cfg "data_dir" "/data" }}
{{- $store := $cfg.store | default dict }}
{{- $sv := include "actlog.storeValues" . | fromYaml }}
{{- if not $store.memory_limit }}
{{- $limit := (($sv.resources | default dict).limits | default dict).memory }}
{{- if $limit }}
{{- $bytes := include "actlog.memoryBytes" $limit | int64 }}
{{- $_ := set $store "memory_limit" (printf "%dMB" (div (div (mul $bytes (int64 .Values.storeMemoryLimitPercent)) 100) 1000000)) }}
{{- end }}
{{- end }}
{{- if not $store.threads }}
{{- $cpu := (($sv.resources | default dict).limits | default dict).cpu }}
{{- if $cpu }}
{{- $_ := set $store "threads" (include "actlog.cpuCores" $cpu | int64) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "store" $store }}
{{- if .Values.trackingPlan }}
{{- if hasKey $cfg "tracking_plan" }}{{ fail "config.tracking_plan is set by the chart when trackingPlan is given: remove it from config" }}{{ end }}
{{- $_ := set $cfg "tracking_plan" (dict "file" "/etc/actlog/plan/tracking-plan.yaml" "reload_interval" "10s") }}
{{- end }}
{{- if eq .Values.mode "kafka" }}
{{- $kafka := $cfg.kafka | default dict }}
{{- if not $kafka.brokers }}{{ fail "mode kafka needs config.kafka.brokers" }}{{ end }}
{{- if and $kafka.sasl (hasKey $kafka.sasl "password") }}{{ fail "config.kafka.sasl.password: give the password through secrets.kafkaSaslPassword or secrets.existingSecret" }}{{ end }}
{{- else }}
{{- $_ := unset $cfg "kafka" }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The sources block: the sources value, or one "default" source whose write
key is generated once and kept in the config Secret across upgrades.
*/}}
{{- define "actlog.sources" -}}
{{- if .Values.sources }}
{{- toYaml (dict "sources" .Values.sources) }}
{{- else }}
{{- $key := "" }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "actlog.configSecretName" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "generated-write-key") }}
{{- $key = index $existing.data "generated-write-key" | b64dec }}
{{- else }}
{{- $key = printf "wk_%s" (randAlphaNum 32) }}
{{- end }}
{{- toYaml (dict "sources" (list (dict "name" "default" "write_key" $key "allowed_origins" (list "*")))) }}
{{- end }}
{{- end }}

{{/* Environment of every actlog container: (dict "root" $ "extra" .Values.ingest.extraEnv). */}}
{{- define "actlog.env" -}}
{{- $root := .root }}
{{- /* The image sets ACTLOG_LISTEN and ACTLOG_DATA_DIR, which would win over the file: keep them equal to it. */ -}}
- name: ACTLOG_LISTEN
  value: {{ printf "0.0.0.0:%d" (int $root.Values.containerPort) | quote }}
- name: ACTLOG_DATA_DIR
  value: /data
- name: ACTLOG_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "actlog.secretName" $root }}
      key: {{ $root.Values.secrets.adminTokenKey }}
{{- if include "actlog.needsSaslPassword" $root }}
- name: ACTLOG_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "actlog.secretName" $root }}
      key: {{ $root.Values.secrets.kafkaSaslPasswordKey }}
{{- end }}
{{- with $root.Values.awsRegion }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Probes of an actlog container: (dict "root" $ "startup" .Values.process.startupProbe).
*/}}
{{- define "actlog.probes" -}}
{{- $p := .root.Values.probes -}}
startupProbe:
  httpGet:
    path: {{ $p.liveness.path }}
    port: http
  periodSeconds: {{ .startup.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ .startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: {{ $p.liveness.path }}
    port: http
  initialDelaySeconds: {{ $p.liveness.initialDelaySeconds }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: {{ $p.readiness.path }}
    port: http
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
{{- end }}

{{/*
The pod template's spec of one component:
(dict "root" $ "component" "process" "role" "process" "v" .Values.process "configFromSecret" false "data" true).
*/}}
{{- define "actlog.podSpec" -}}
{{- $root := .root }}
{{- $v := .v -}}
serviceAccountName: {{ include "actlog.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.automountServiceAccountToken }}
enableServiceLinks: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
containers:
  - name: actlog
    image: {{ include "actlog.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      - {{ .role }}
      - --config
      - /etc/actlog/actlog.yaml
    ports:
      - name: http
        containerPort: {{ $root.Values.containerPort }}
        protocol: TCP
    env:
      {{- include "actlog.env" (dict "root" $root "extra" $v.extraEnv) | nindent 6 }}
    {{- include "actlog.probes" (dict "root" $root "startup" $v.startupProbe) | nindent 4 }}
    lifecycle:
      preStop:
        sleep:
          seconds: {{ $v.preStopSleepSeconds }}
    resources:
      {{- toYaml $v.resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/actlog
        readOnly: true
      - name: tmp
        mountPath: /tmp
      {{- if $root.Values.trackingPlan }}
      - name: tracking-plan
        mountPath: /etc/actlog/plan
        readOnly: true
      {{- end }}
      {{- if .data }}
      - name: data
        mountPath: /data
      {{- end }}
volumes:
  - name: config
    {{- if .configFromSecret }}
    secret:
      secretName: {{ include "actlog.configSecretName" $root }}
      items:
        - key: actlog.yaml
          path: actlog.yaml
    {{- else }}
    configMap:
      name: {{ include "actlog.configMapName" $root }}
      items:
        - key: actlog.yaml
          path: actlog.yaml
    {{- end }}
  {{- if $root.Values.trackingPlan }}
  # Not in the checksums: a new plan reaches the pods through the volume
  # (within a minute or so) and actlog reloads it without a restart.
  - name: tracking-plan
    configMap:
      name: {{ include "actlog.configMapName" $root }}-plan
      items:
        - key: tracking-plan.yaml
          path: tracking-plan.yaml
  {{- end }}
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Checksums of the configuration, so that pods roll when it changes. */}}
{{- define "actlog.configChecksums" -}}
checksum/config: {{ include "actlog.config" .root | sha256sum }}
checksum/secrets: {{ .root.Values.secrets | toYaml | sha256sum }}
{{- if .configFromSecret }}
checksum/sources: {{ .root.Values.sources | toYaml | sha256sum }}
{{- end }}
{{- end }}

{{/* The volume claim of a store: (dict "root" $ "p" .Values.process.persistence). */}}
{{- define "actlog.volumeClaim" -}}
- metadata:
    name: data
    {{- with .p.annotations }}
    annotations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  spec:
    accessModes:
      {{- toYaml .p.accessModes | nindent 6 }}
    {{- if .p.storageClass }}
    storageClassName: {{ .p.storageClass | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .p.size }}
{{- end }}

{{/* An Ingress: (dict "root" $ "component" "ingest" "i" .Values.ingest.ingress "port" .Values.ingest.service.port). */}}
{{- define "actlog.ingress" -}}
{{- $root := .root }}
{{- $i := .i }}
{{- $svc := printf "%s-%s" (include "actlog.fullname" $root) .component }}
{{- $port := .port }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $svc }}
  labels:
    {{- include "actlog.componentLabels" (dict "root" $root "component" .component) | nindent 4 }}
  {{- $ann := deepCopy ($i.annotations | default dict) }}
  {{- if $i.alb.enabled }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/scheme" $i.alb.scheme }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/target-type" $i.alb.targetType }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/healthcheck-path" $i.alb.healthcheckPath }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/listen-ports" $i.alb.listenPorts }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/target-group-attributes" (printf "deregistration_delay.timeout_seconds=%d" (int $i.alb.deregistrationDelaySeconds)) }}
  {{- if $i.alb.certificateArn }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/certificate-arn" $i.alb.certificateArn }}
  {{- if $i.alb.sslRedirect }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/ssl-redirect" "443" }}
  {{- end }}
  {{- end }}
  {{- if $i.alb.groupName }}
  {{- $_ := set $ann "alb.ingress.kubernetes.io/group.name" $i.alb.groupName }}
  {{- end }}
  {{- end }}
  {{- with $ann }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $i.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    {{- range $i.hosts }}
    - http:
        paths:
          {{- range .paths }}
          - path: {{ .path }}
            pathType: {{ .pathType }}
            backend:
              service:
                name: {{ $svc }}
                port:
                  number: {{ $port }}
          {{- end }}
      {{- with .host }}
      host: {{ . | quote }}
      {{- end }}
    {{- end }}
{{- end }}

{{/* Checks of values that cannot be expressed by the templates alone. */}}
{{- define "actlog.validate" -}}
{{- if not (has .Values.mode (list "kafka" "embedded")) }}
{{- fail (printf "mode %q: want kafka or embedded" .Values.mode) }}
{{- end }}
{{- if and (eq .Values.mode "kafka") (gt (int .Values.process.replicas) 1) (not .Values.process.allowMultipleStores) }}
{{- fail "process.replicas > 1 makes one store per replica, each with only its partitions (docs/kafka.md#partitions-and-stores): set process.allowMultipleStores=true if that is what you want" }}
{{- end }}
{{- if and (include "actlog.needsSaslPassword" .) (not .Values.secrets.existingSecret) (not .Values.secrets.kafkaSaslPassword) }}
{{- fail (printf "kafka.sasl.mechanism %s needs a password: set secrets.kafkaSaslPassword or secrets.existingSecret" (include "actlog.saslMechanism" .)) }}
{{- end }}
{{- end }}

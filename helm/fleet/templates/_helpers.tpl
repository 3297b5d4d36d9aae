{{/* Chart name, or nameOverride. */}}
{{- define "fleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every resource name: fullnameOverride, or "<release>-<chart>" (just the release
when it already contains the chart name). */}}
{{- define "fleet.fullname" -}}
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

{{/* Labels on every resource. */}}
{{- define "fleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fleet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "gateway"). */}}
{{- define "fleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleet.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fleet.gateway.fullname" -}}
{{- printf "%s-gateway" (include "fleet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of one pool's Deployment and ScaledObject; call with (dict "root" $ "pool" $name). */}}
{{- define "fleet.worker.fullname" -}}
{{- printf "%s-worker-%s" (include "fleet.fullname" .root) .pool | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "repository:tag", the tag defaulting to the chart's appVersion; call with (dict "root" $ "image" .image). */}}
{{/*
The worker's image: its tag defaults to the chart's appVersion plus "-" and the flavour that
deploy/images/build.sh gives it: cu128 (CUDA) when the workers run on GPUs, cpu otherwise.
*/}}
{{- define "fleet.workerImage" -}}
{{- $w := .Values.workers }}
{{- $flavor := $w.image.flavor | default (ternary "cu128" "cpu" (eq (toString $w.device) "gpu")) }}
{{- printf "%s:%s" (required "an image repository is required" $w.image.repository) (toString (default (printf "%s-%s" .Chart.AppVersion $flavor) $w.image.tag)) }}
{{- end }}

{{- define "fleet.image" -}}
{{- printf "%s:%s" (required "an image repository is required" .image.repository) (toString (default .root.Chart.AppVersion .image.tag)) }}
{{- end }}

{{- define "fleet.postgresql.jdbcUrl" -}}
{{- with .Values.postgresql }}
{{- if .jdbcUrl }}
{{- .jdbcUrl }}
{{- else }}
{{- printf "jdbc:postgresql://%s:%v/%s" (required "postgresql.host is required (or postgresql.jdbcUrl)" .host) .port (required "postgresql.database is required" .database) }}
{{- if .params }}?{{ .params }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Kafka, PostgreSQL and S3 settings, shared by the gateway and the workers: environment
variables, which Quarkus maps onto its configuration (KAFKA_BOOTSTRAP_SERVERS is
kafka.bootstrap.servers). Credentials come from the existing Secrets. */}}
{{- define "fleet.connectionEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required" .Values.kafka.bootstrapServers | quote }}
- name: QUARKUS_DATASOURCE_JDBC_URL
  value: {{ include "fleet.postgresql.jdbcUrl" . | quote }}
- name: QUARKUS_DATASOURCE_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.existingSecret is required: a Secret with the database credentials" .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.usernameKey }}
- name: QUARKUS_DATASOURCE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.passwordKey }}
- name: FLEET_S3_ENDPOINT
  value: {{ required "s3.endpoint is required" .Values.s3.endpoint | quote }}
- name: FLEET_S3_BUCKET
  value: {{ required "s3.bucket is required" .Values.s3.bucket | quote }}
- name: FLEET_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "s3.existingSecret is required: a Secret with the S3 access key pair" .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyKey }}
- name: FLEET_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretKeyKey }}
{{- end }}

{{/* The memory classes the gateway routes to (dev.fleet.model.job.MemoryClass): the only
pool names whose topics (<class>.<model>) receive jobs. */}}
{{- define "fleet.memoryClasses" -}}
vram-8g vram-12g vram-16g
{{- end }}

{{/* A pool's memory class: its `memoryClass`, or its name (pools named after their class); call
with (dict "name" $name "pool" $pool). */}}
{{- define "fleet.worker.class" -}}
{{- $pool := .pool | default dict }}
{{- if kindIs "map" $pool }}{{ $pool.memoryClass | default .name }}{{ else }}{{ .name }}{{ end }}
{{- end }}

{{/* Fails with a message naming the value when a pool is misconfigured; call with
(dict "root" $ "name" $name "pool" $pool). */}}
{{- define "fleet.worker.validate" -}}
{{- $root := .root }}
{{- $where := printf "workers.pools.%s" .name }}
{{- if not (regexMatch "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$" .name) }}
{{- fail (printf "%s: a pool's name is part of its Deployment's name: lower-case letters, digits and '-'" $where) }}
{{- end }}
{{- $classes := splitList " " (include "fleet.memoryClasses" $root) }}
{{- $class := include "fleet.worker.class" (dict "name" .name "pool" .pool) }}
{{- if not (has $class $classes) }}
{{- fail (printf "%s: %q is not a memory class the gateway routes to; name the pool after one (%s) or set its memoryClass" $where $class (join ", " $classes)) }}
{{- end }}
{{- $pool := .pool }}
{{- if not (kindIs "map" $pool) }}
{{- fail (printf "%s must be a map of pool settings" $where) }}
{{- end }}
{{- $model := required (printf "%s.modelName is required: the registry name of the model it serves" $where) $pool.modelName }}
{{- range $other, $p := $root.Values.workers.pools }}
{{- if and (ne $other $.name) (kindIs "map" $p) (not (and (hasKey $p "enabled") (not $p.enabled))) }}
{{- if and (eq (include "fleet.worker.class" (dict "name" $other "pool" $p)) $class) (eq (toString $p.modelName) (toString $model)) }}
{{- fail (printf "%s and workers.pools.%s both serve model %s on class %s: one pool per class and model (they would share topic %s.%s and its scaling)" $where $other $model $class $class $model) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not (hasKey $root.Values.gateway.models $model) }}
{{- fail (printf "%s.modelName %q is not in gateway.models (%s): the gateway would refuse every job for it" $where $model (join ", " (keys $root.Values.gateway.models | sortAlpha))) }}
{{- end }}
{{- $volume := $pool.modelVolume | default dict }}
{{- if and $volume.existingClaim $volume.hostPath }}
{{- fail (printf "%s.modelVolume: set existingClaim or hostPath, not both" $where) }}
{{- end }}
{{- if not (or $volume.existingClaim $volume.hostPath) }}
{{- fail (printf "%s.modelVolume needs existingClaim or hostPath: where the model files are" $where) }}
{{- end }}
{{- $min := int (required (printf "%s.minReplicas is required" $where) $pool.minReplicas) }}
{{- $max := int (required (printf "%s.maxReplicas is required" $where) $pool.maxReplicas) }}
{{- if or (lt $min 0) (lt $max 1) (gt $min $max) }}
{{- fail (printf "%s: need 0 <= minReplicas <= maxReplicas and maxReplicas >= 1, got minReplicas %d, maxReplicas %d" $where $min $max) }}
{{- end }}
{{- $partitions := int $root.Values.kafka.topicPartitions }}
{{- $most := ternary $max (int $pool.replicas) $root.Values.keda.enabled }}
{{- if and (gt $most $partitions) (not $root.Values.keda.allowIdleConsumers) }}
{{- fail (printf "%s: %d replicas but kafka.topicPartitions is %d; a consumer group uses one consumer per partition, so create topic %s.%s with at least %d partitions and raise kafka.topicPartitions" $where $most $partitions $class $model $most) }}
{{- end }}
{{- end }}

{{/*
The LoRA directory's volume (named loras), when one is configured.
*/}}
{{- define "fleet.lorasVolume" -}}
{{- if .Values.loras.existingClaim }}
- name: loras
  persistentVolumeClaim:
    claimName: {{ .Values.loras.existingClaim }}
    readOnly: true
{{- else if .Values.loras.hostPath }}
- name: loras
  hostPath:
    path: {{ .Values.loras.hostPath }}
    type: Directory
{{- end }}
{{- end }}

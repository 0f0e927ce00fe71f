#!/bin/sh
# postgres workflows, one image for all of them (like Kratix's redis example): the Promise
# installs an operator; a request is planned by one pipeline and rendered by the next, which
# reads the plan back from the request's status (the only channel between pipelines).
set -eu

case "$KRATIX_WORKFLOW_TYPE/$KRATIX_WORKFLOW_ACTION/$KRATIX_PIPELINE_NAME" in
promise/configure/*)
  echo "installing the postgres operator"
  cat > /kratix/output/operator.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: postgres-operator
  namespace: postgres-system
spec:
  replicas: 1
  selector:
    matchLabels:
      app: postgres-operator
  template:
    metadata:
      labels:
        app: postgres-operator
    spec:
      containers:
        - name: operator
          image: registry.example.com/postgres-operator:1.12
YAML
  echo "message: postgres operator installed" > /kratix/metadata/status.yaml
  ;;
promise/delete/*)
  echo "message: postgres operator removed" > /kratix/metadata/status.yaml
  ;;
resource/configure/plan)
  size=$(yget spec.size || echo small)
  case "$size" in
    small) replicas=1; storage=1Gi ;;
    large) replicas=3; storage=50Gi ;;
    *) echo "unknown size '$size': use small or large" >&2; exit 2 ;;
  esac
  echo "planned $size: $replicas replica(s), $storage"
  cat > /kratix/metadata/status.yaml <<YAML
message: planned
stage: planned
replicas: $replicas
storage: $storage
YAML
  ;;
resource/configure/render)
  stage=$(yget status.stage || echo none)
  if [ "$stage" != planned ]; then
    echo "expected status.stage 'planned' from the plan pipeline, got '$stage'" >&2
    exit 3
  fi
  name=$(yget metadata.name)
  namespace=$(yget metadata.namespace)
  replicas=$(yget status.replicas)
  storage=$(yget status.storage)
  cat > /kratix/output/postgres.yaml <<YAML
apiVersion: acid.zalan.do/v1
kind: postgresql
metadata:
  name: $name-db
  namespace: $namespace
spec:
  numberOfInstances: $replicas
  volume:
    size: $storage
YAML
  cat > /kratix/metadata/status.yaml <<YAML
message: database $name-db with $replicas replica(s)
stage: rendered
YAML
  ;;
resource/delete/*)
  echo "message: database $(yget metadata.name)-db scheduled for removal" \
    > /kratix/metadata/status.yaml
  ;;
*)
  echo "unexpected workflow $KRATIX_WORKFLOW_TYPE/$KRATIX_WORKFLOW_ACTION" >&2
  exit 1
  ;;
esac

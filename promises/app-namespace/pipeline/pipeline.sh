#!/bin/sh
# app-namespace resource workflow: a team namespace with a quota on the environment's cluster,
# and the team's access binding on the platform cluster (routed by destination-selectors.yaml).
set -eu

name=$(yget metadata.name)
team=$(yget spec.team)
environment=$(yget spec.environment || echo dev)
cpu=$(yget spec.cpuQuota || echo 2)
namespace="$team-$environment"

if [ "$KRATIX_WORKFLOW_ACTION" = delete ]; then
  echo "tearing down namespace $namespace for request $name"
  echo "message: namespace $namespace released" > /kratix/metadata/status.yaml
  exit 0
fi

echo "rendering namespace $namespace for team $team ($environment)"
cat > /kratix/output/namespace.yaml <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    team: $team
    environment: $environment
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: team-quota
  namespace: $namespace
spec:
  hard:
    limits.cpu: "$cpu"
YAML

mkdir -p /kratix/output/platform
cat > /kratix/output/platform/team-access.yaml <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: team-$team-$environment
  namespace: platform-teams
data:
  namespace: $namespace
  environment: $environment
YAML

cat > /kratix/metadata/destination-selectors.yaml <<YAML
- matchLabels:
    environment: $environment
- directory: platform
  matchLabels:
    role: platform
YAML

cat > /kratix/metadata/status.yaml <<YAML
message: namespace $namespace requested
namespace: $namespace
YAML

#!/usr/bin/env bash
# The shell approach fetch-env replaces, reimplemented faithfully for comparison: bash, the
# aws CLI and jq (yq, the jq wrapper for YAML, reads the manifest), in the resolution order of
# SPEC 3.1: bootstrap (local), SSM by path, Secrets Manager bundles by prefix, arn_from secrets
# (each distinct ARN fetched once), defaults, then compose templates with percent-encoding.
#
# usage: fetch-env.sh --manifest vars.yaml --bootstrap .env [--format export]
set -euo pipefail

manifest='' bootstrap=''
while [ $# -gt 0 ]; do
  case "$1" in
    --manifest) manifest=$2; shift 2 ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --format) shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

declare -A LOCAL VALUE
# 1. The bootstrap file, read as a shell would (this script trusts it).
while IFS= read -r name; do
  LOCAL[$name]=1
done < <(yq -r '.variables[] | select(.source == "local") | .name' "$manifest")
set -a
# shellcheck disable=SC1090
. "$bootstrap"
set +a
for name in "${!LOCAL[@]}"; do
  [ -n "${!name:-}" ] && VALUE[$name]=${!name}
done

service=$(yq -r '.service' "$manifest")
declare -A REMOTE
while IFS= read -r name; do
  REMOTE[$name]=1
done < <(yq -r '.variables[] | select(.source != "local" and .compose == null) | .name' "$manifest")

# 2. SSM: every parameter under the service path (the CLI follows the pages).
while IFS=$'\t' read -r name value; do
  [ -n "${REMOTE[$name]:-}" ] && VALUE[$name]=$(printf '%s' "$value" | base64 -d)
done < <(aws ssm get-parameters-by-path --path "/$NAMESPACE/$service" --recursive \
           --with-decryption --output json |
         jq -r '.Parameters[] | "\(.Name | split("/") | last)\t\(.Value | @base64)"')

# 3. Secrets Manager: every secret under the prefix, merged key by key.
while IFS= read -r secret; do
  while IFS=$'\t' read -r name value; do
    [ -n "${REMOTE[$name]:-}" ] && VALUE[$name]=$(printf '%s' "$value" | base64 -d)
  done < <(aws secretsmanager get-secret-value --secret-id "$secret" --output json |
           jq -r '.SecretString | fromjson | to_entries[] | "\(.key)\t\(.value | tostring | @base64)"')
done < <(aws secretsmanager list-secrets --filters "Key=name,Values=$NAMESPACE/$service/" \
           --output json | jq -r '.SecretList[].Name')

# 4. arn_from: each distinct secret once, then one key per variable.
declare -A SECRET
while IFS=$'\t' read -r name from key; do
  arn=${!from:-}
  [ -n "$arn" ] || continue
  if [ -z "${SECRET[$arn]+x}" ]; then
    SECRET[$arn]=$(aws secretsmanager get-secret-value --secret-id "$arn" \
                     --query SecretString --output text)
  fi
  value=$(printf '%s' "${SECRET[$arn]}" | jq -r --arg k "$key" '.[$k] // empty | tostring')
  [ -n "$value" ] && VALUE[$name]=$value
done < <(yq -r '.variables[] | select(.secret != null) | "\(.name)\t\(.secret.arn_from)\t\(.secret.key)"' "$manifest")

# 5. Defaults.
while IFS=$'\t' read -r name value; do
  [ -z "${VALUE[$name]:-}" ] && VALUE[$name]=$value
done < <(yq -r '.variables[] | select(.default != null) | "\(.name)\t\(.default)"' "$manifest")

# 6. Compose templates, encoding the listed inputs.
while IFS=$'\t' read -r name template encode; do
  out=$template
  for input in $(printf '%s' "$template" | grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' | tr -d '${}' | sort -u); do
    value=${VALUE[$input]:-}
    if [[ " $encode " == *" $input "* ]]; then
      value=$(jq -rn --arg v "$value" '$v | @uri')
    fi
    out=${out//"\${$input}"/$value}
  done
  VALUE[$name]=$out
done < <(yq -r '.variables[] | select(.compose != null) | "\(.name)\t\(.compose.template)\t\((.compose.encode // []) | join(" "))"' "$manifest")

# Required check, then the exports in manifest order.
missing=0
while IFS= read -r name; do
  if [ -z "${VALUE[$name]:-}" ]; then echo "$name is required" >&2; missing=1; fi
done < <(yq -r '.variables[] | select(.required == true) | .name' "$manifest")
[ "$missing" = 0 ] || exit 1
while IFS= read -r name; do
  if [ -n "${VALUE[$name]+x}" ]; then
    printf "export %s='%s'\n" "$name" "${VALUE[$name]//\'/\'\\\'\'}"
  fi
done < <(yq -r '.variables[].name' "$manifest")

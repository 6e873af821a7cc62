#!/usr/bin/env bash
# The naive approach, for comparison: the script a service owner writes first, one aws CLI call
# per variable. Variable by variable, in manifest order:
#   - source: local          the bootstrap file (sourced, as a shell would)
#   - secret.arn_from        one get-secret-value of that ARN, then the key with jq (the same
#                            ARN is fetched again for every variable that uses it)
#   - compose                filled in after every other variable, inputs percent-encoded with
#                            jq @uri as listed in `encode`
#   - anything else          one get-parameter of /$NAMESPACE/$service/NAME; when SSM does not
#                            have it, the service's secret bundles (listed once, at the start,
#                            with list-secrets) are read one after another until one holds the
#                            key; then the default.
# A value found in SSM is kept even if a bundle holds the same key (fetch-env would let the
# bundle win): the benchmark's data never puts a name in both, so the outputs are comparable
# byte for byte.
#
# usage: naive.sh --manifest vars.yaml --bootstrap .env [--format export]
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

set -a
# shellcheck disable=SC1090
. "$bootstrap"
set +a
service=$(yq -r '.service' "$manifest")
prefix="$NAMESPACE/$service"

mapfile -t BUNDLES < <(aws secretsmanager list-secrets --filters "Key=name,Values=$prefix/" \
                         --output json | jq -r '.SecretList[].Name' | sort)

declare -A VALUE
NAMES=()
COMPOSED=()
# One line per variable: name, kind, arn_from, key, default (base64, so that no value can break
# the tab-separated line). An absent field is `-`: `read` would merge two adjacent tabs.
while IFS=$'\t' read -r name kind from key default; do
  NAMES+=("$name")
  if [ "$default" = - ]; then default=''; else default=$(printf '%s' "$default" | base64 -d); fi
  value=''
  case "$kind" in
    local)
      value=${!name:-}
      ;;
    secret)
      arn=${!from:-}
      if [ -n "$arn" ]; then
        value=$(aws secretsmanager get-secret-value --secret-id "$arn" \
                  --query SecretString --output text | jq -r --arg k "$key" '.[$k] // empty')
      fi
      ;;
    compose)
      COMPOSED+=("$name")
      continue
      ;;
    remote)
      if ! value=$(aws ssm get-parameter --name "/$prefix/$name" --with-decryption \
                     --query Parameter.Value --output text 2>/dev/null); then
        value=''
        for bundle in "${BUNDLES[@]}"; do
          value=$(aws secretsmanager get-secret-value --secret-id "$bundle" \
                    --query SecretString --output text | jq -r --arg k "$name" '.[$k] // empty')
          [ -z "$value" ] || break
        done
      fi
      ;;
  esac
  [ -n "$value" ] || value=$default
  [ -z "$value" ] || VALUE[$name]=$value
done < <(yq -r '.variables[] |
  [.name,
   (if .source == "local" then "local" elif .secret != null then "secret"
    elif .compose != null then "compose" else "remote" end),
   (.secret.arn_from // "-"), (.secret.key // "-"),
   (if .default == null then "-" else (.default | tostring | @base64) end)] | @tsv' "$manifest")

for name in "${COMPOSED[@]}"; do
  IFS=$'\t' read -r template encode < <(yq -r --arg n "$name" '.variables[] | select(.name == $n) |
    [.compose.template, ((.compose.encode // []) | join(" "))] | @tsv' "$manifest")
  out=$template
  for input in $(printf '%s' "$template" | grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' | tr -d '${}' | sort -u); do
    value=${VALUE[$input]:-}
    if [[ " $encode " == *" $input "* ]]; then
      value=$(jq -rn --arg v "$value" '$v | @uri')
    fi
    out=${out//"\${$input}"/$value}
  done
  VALUE[$name]=$out
done

missing=0
while IFS= read -r name; do
  if [ -z "${VALUE[$name]:-}" ]; then echo "$name is required" >&2; missing=1; fi
done < <(yq -r '.variables[] | select(.required == true) | .name' "$manifest")
[ "$missing" = 0 ] || exit 1
for name in "${NAMES[@]}"; do
  if [ -n "${VALUE[$name]+x}" ]; then
    printf "export %s='%s'\n" "$name" "${VALUE[$name]//\'/\'\\\'\'}"
  fi
done

#!/usr/bin/env bash
# Runs the service locally: moto stands in for DynamoDB/SES/SNS, and `cargo lambda watch`
# serves the functions on http://127.0.0.1:${LOCAL_API_PORT:-9000}, hot-reloading on edits.
# Every function is built first, with cargo's progress on screen, so the first request does not
# wait minutes for a silent build. infra/stream-courier.py stands in for the stream's trigger:
# it hands what the functions write to the outbox to the courier, which sends it to moto.
#
#   infra/local-stack.sh [cargo lambda watch flags, e.g. -v]
#
# Every code request needs a solved CAPTCHA (GET /v1/captcha; README.md shows how). To try
# the API with plain curl, run CAPTCHA_PROVIDER=off infra/local-stack.sh (local only), then
#   curl -X POST localhost:9000/v1/verifications -H 'content-type: application/json' \
#        -d '{"channel":"email","purpose":"sign_up","email":"ana@example.org"}'
#
# Overrides: LOCAL_TABLE_NAME (accounts-local), LOCAL_API_PORT (9000), MOTO_PORT (4566),
# LOCAL_AWS_ENDPOINT_URL (what the functions call instead of moto, e.g. tests/fault_proxy.py),
# SENDER_EMAIL, SERVICE_NAME, RUST_LOG, OIDC_ISSUER (below). The service secret lives in
# moto's Secrets Manager (secret "account-service-local", created once), read at cold start as
# in a deployed stack.
#
# It is an OpenID Connect provider too ("Sign in with Mi Account"): OIDC_ISSUER (PUBLIC_ORIGIN,
# http://127.0.0.1:9000; set it empty for no provider: its routes answer 404) with the discovery
# document at ${OIDC_ISSUER}/.well-known/openid-configuration; the pairwise key in the secret
# "account-service-local-oidc-pairwise" (created once, OIDC_PAIRWISE_KEY_ARN); the signing key
# in moto's KMS, made by `rotate-signing-key` the first time a table has no keyring (later
# starts keep it, so tokens already issued still verify). No client is registered: register
# one (the tests register their own) with
#   source infra/env.sh && target/debug/register-client accounts-local --service-secret \
#     account-service-local --id demo --name Demo --party first --confidential \
#     --redirect-uri http://127.0.0.1:8080/callback --scopes "openid email phone"
#
# HTTP routes come from [workspace.metadata.lambda.watch.router] in Cargo.toml. moto keeps
# running after you stop watch (state survives restarts); `infra/moto.sh stop` ends it.
# Codes "sent" are visible in moto: curl -s "localhost:4566/moto-api/data.json?services=ses,sns"
#   (ses.Message[] for e-mail, sns.SMS[] for SMS).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

infra/ensure-tools.sh test lambda
# shellcheck source=infra/env.sh
source infra/env.sh
infra/moto.sh start

# What the functions need beyond the defaults, which match template.yaml's Globals
# (limits, lifetimes, argon2 cost): any of them can be overridden from the shell.
export TABLE_NAME="${LOCAL_TABLE_NAME:-accounts-local}"
export SENDER_EMAIL="${SENDER_EMAIL:-no-reply@example.com}"
export SERVICE_NAME="${SERVICE_NAME:-Mi Account}"
export RUST_LOG="${RUST_LOG:-info}"
# The hosted pages accept forms only from the origin they are served from.
export PUBLIC_ORIGIN="${PUBLIC_ORIGIN:-http://127.0.0.1:${LOCAL_API_PORT:-9000}}"

python infra/table-definition.py --create "${TABLE_NAME}"

# moto only sends from verified identities, and (like SES) keeps them per region: this one
# exists in ${AWS_REGION} only. moto marks it verified at once; real SES waits for a click.
python - "${SENDER_EMAIL}" <<'PY'
import sys, boto3
ses = boto3.client("sesv2")
try:
    ses.create_email_identity(EmailIdentity=sys.argv[1])
except ses.exceptions.AlreadyExistsException:
    pass
print(f"local-stack: SES identity {sys.argv[1]} ready in {ses.meta.region_name}")
PY

# Like the stack's generated secrets: created once, so sessions survive restarts of watch.
local_secret_arn() {
    python - "$1" <<'PY'
import secrets, sys, boto3
client = boto3.client("secretsmanager")
name = sys.argv[1]
try:
    print(client.describe_secret(SecretId=name)["ARN"])
except client.exceptions.ResourceNotFoundException:
    print(client.create_secret(Name=name, SecretString=secrets.token_urlsafe(48))["ARN"])
PY
}
SERVICE_SECRET_ARN="$(local_secret_arn account-service-local)"
EDGE_SECRET_ARN="$(local_secret_arn account-service-local-edge)"
export SERVICE_SECRET_ARN EDGE_SECRET_ARN
unset SERVICE_SECRET EDGE_SECRET

# The OpenID Connect provider: its pairwise key (the `sub` a third-party app sees is keyed by
# it) is a generated secret like the others, its text used as it is (64 characters).
export OIDC_ISSUER="${OIDC_ISSUER-${PUBLIC_ORIGIN}}"
if [[ -n "${OIDC_ISSUER}" ]]; then
  OIDC_PAIRWISE_KEY_ARN="$(local_secret_arn account-service-local-oidc-pairwise)"
  export OIDC_PAIRWISE_KEY_ARN
fi
unset OIDC_PAIRWISE_KEY # the functions refuse both set

# moto can take seconds per call on a busy machine; AWS gets the functions' own shorter waits.
export AWS_CALL_TIMEOUT_MS="${AWS_CALL_TIMEOUT_MS:-10000}" REQUEST_DEADLINE_MS="${REQUEST_DEADLINE_MS:-25000}"

# The functions and the stream poller call moto, or a proxy in front of it (the load run's).
export AWS_ENDPOINT_URL="${LOCAL_AWS_ENDPOINT_URL:-${AWS_ENDPOINT_URL}}"

# What `cargo lambda watch` runs (`cargo run --bin <function>`), built now: every function has
# the same dependencies and features, so each `cargo run` finds its binary fresh. The provider's
# operator commands come with them (target/debug/register-client is what the tests call).
bins=()
for manifest in functions/*/Cargo.toml; do
  bins+=(--bin "$(basename "$(dirname "${manifest}")")")
done
echo "local-stack: building $((${#bins[@]} / 2)) functions before serving (the first build takes minutes)"
cargo build "${bins[@]}" --bin rotate-signing-key --bin register-client

# The signing key, once per table: the keyring item (OIDC#KEYS, shared/src/signing/keyring.rs)
# names the KMS key; with one there already, this start keeps it. Straight to moto, never
# through LOCAL_AWS_ENDPOINT_URL's proxy: this is the operator's setup, not the functions' calls.
if [[ -n "${OIDC_ISSUER}" ]]; then
  if AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}" python - "${TABLE_NAME}" <<'PY'
import sys, boto3
key = {"pk": {"S": "OIDC#KEYS"}, "sk": {"S": "OIDC#KEYS"}}
found = boto3.client("dynamodb").get_item(TableName=sys.argv[1], Key=key, ConsistentRead=True).get("Item")
sys.exit(0 if found else 1)
PY
  then
    echo "local-stack: ${TABLE_NAME} has a signing keyring: its key is kept"
  else
    AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}" cargo run -q --bin rotate-signing-key -- "${TABLE_NAME}" --stack local |
      sed 's/^/local-stack: /'
  fi
  echo "local-stack: OpenID Connect provider ${OIDC_ISSUER}/.well-known/openid-configuration"
fi

python infra/stream-courier.py "${TABLE_NAME}" &
courier=$!
trap 'kill "${courier}" 2>/dev/null || true' EXIT

# The function processes inherit this environment (cargo lambda watch spawns `cargo run`
# with it). Bind to loopback only; the default address is "::" (all interfaces).
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${LOCAL_API_PORT:-9000}" "$@"

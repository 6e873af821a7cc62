"""Seeds an AWS-compatible server with the content of a fetch-env file store.

usage: seed.py ENDPOINT STORE.yaml            create every parameter and secret; print a JSON
                                              object mapping each ARN key of the store file to
                                              the ARN the server assigned
       seed.py ENDPOINT --many STORE.yaml...  the same for several store files in one call (one
                                              interpreter start instead of one each); a parameter
                                              or secret name found in two of them is an error
                                              (they would overwrite each other on the server);
                                              print a JSON object mapping each STORE path to its
                                              ARN object
       seed.py ENDPOINT --iam-setup POLICY STORE  on a server enforcing IAM: seed with an
                                              administrator, then create a user holding only
                                              POLICY (JSON); print the ARN map and its keys
       seed.py ENDPOINT --iam-users POLICIES STORE  the same for several users at once: POLICIES
                                              is a JSON object mapping each user name to its
                                              policy (JSON); print the ARN map and, under
                                              "users", each user's keys
       seed.py ENDPOINT --create-binary-secret NAME BYTES  a SecretBinary secret; prints its ARN
       seed.py ENDPOINT --put-secret ID VALUE put a new value (rotation)
       seed.py ENDPOINT --put-parameter NAME VALUE  overwrite a String parameter (a new version)
       seed.py ENDPOINT --get-secret ID       print the current value of a secret
       seed.py ENDPOINT --create-empty-secret NAME  a secret with no value yet (no version)
       seed.py ENDPOINT --list-secrets PREFIX print the names of the secrets under PREFIX and of
                                              the parameters under /PREFIX (JSON)
       seed.py ENDPOINT --delete-secret ID    delete a secret at once

The values are written exactly as the file store reads them: scalars as their text, a secret
written as a mapping as compact JSON with sorted keys (what serde_json writes).
"""
import json
import sys

import boto3
import yaml


KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-central-1", **KEYS)


def iam_setup(endpoint, policy, path):
    """For a server started with INITIAL_NO_AUTH_ACTION_COUNT=3: an administrator is created
    with the three unauthenticated calls, the store is seeded with the administrator's keys,
    then a user `host` holding only `policy` is created. Prints the ARN map and host's keys."""
    iam = client("iam", endpoint)
    iam.create_user(UserName="admin")
    iam.put_user_policy(
        UserName="admin",
        PolicyName="admin",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    KEYS.update(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    arns = seed_store(endpoint, load(path))
    iam = client("iam", endpoint)
    iam.create_user(UserName="host")
    iam.put_user_policy(UserName="host", PolicyName="host", PolicyDocument=policy)
    key = iam.create_access_key(UserName="host")["AccessKey"]
    print(json.dumps({
        "arns": arns,
        "access_key_id": key["AccessKeyId"],
        "secret_access_key": key["SecretAccessKey"],
    }))


def iam_users(endpoint, policies, path):
    """Like iam_setup, with one user per entry of `policies` (user name -> policy JSON): one
    server and one interpreter start for many permission sets."""
    iam = client("iam", endpoint)
    iam.create_user(UserName="admin")
    iam.put_user_policy(
        UserName="admin",
        PolicyName="admin",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    KEYS.update(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    arns = seed_store(endpoint, load(path))
    iam = client("iam", endpoint)
    users = {}
    for name, policy in json.loads(policies).items():
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
        }
    print(json.dumps({"arns": arns, "users": users}))


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def name_of(key):
    if not key.startswith("arn:"):
        return key
    name = key.split(":secret:", 1)[1]
    return name.rsplit("-", 1)[0]


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def seed(endpoint, path):
    print(json.dumps(seed_store(endpoint, load(path))))


def seed_many(endpoint, paths):
    stores = {path: load(path) for path in paths}
    owners = {}
    for path, store in stores.items():
        names = list(store.get("parameters") or {})
        names += [name_of(key) for key in store.get("secrets") or {}]
        for name in names:
            if owners.setdefault(name, path) != path:
                sys.exit(f"seed.py: {name} is in both {owners[name]} and {path}")
    ssm, sm = client("ssm", endpoint), client("secretsmanager", endpoint)
    arns = {path: seed_store(endpoint, store, ssm, sm) for path, store in stores.items()}
    print(json.dumps(arns))


def seed_store(endpoint, store, ssm=None, sm=None):
    ssm = ssm or client("ssm", endpoint)
    for name, value in (store.get("parameters") or {}).items():
        kind = "String"
        if isinstance(value, dict):
            kind = value.get("type", "String")
            value = value["value"]
        ssm.put_parameter(Name=name, Value=text(value), Type=kind, Overwrite=True)
    sm = sm or client("secretsmanager", endpoint)
    arns = {}
    for key, value in (store.get("secrets") or {}).items():
        created = sm.create_secret(Name=name_of(key), SecretString=text(value))
        if key.startswith("arn:"):
            arns[key] = created["ARN"]
    return arns


def main():
    endpoint = sys.argv[1]
    if sys.argv[2] == "--put-secret":
        client("secretsmanager", endpoint).put_secret_value(
            SecretId=sys.argv[3], SecretString=sys.argv[4]
        )
    elif sys.argv[2] == "--put-parameter":
        client("ssm", endpoint).put_parameter(
            Name=sys.argv[3], Value=sys.argv[4], Type="String", Overwrite=True
        )
    elif sys.argv[2] == "--create-empty-secret":
        client("secretsmanager", endpoint).create_secret(Name=sys.argv[3])
    elif sys.argv[2] == "--get-secret":
        answer = client("secretsmanager", endpoint).get_secret_value(
            SecretId=sys.argv[3], VersionStage="AWSCURRENT"
        )
        print(answer["SecretString"])
    elif sys.argv[2] == "--list-secrets":
        names = []
        pages = client("secretsmanager", endpoint).get_paginator("list_secrets")
        for page in pages.paginate():
            names += [s["Name"] for s in page["SecretList"] if s["Name"].startswith(sys.argv[3])]
        pages = client("ssm", endpoint).get_paginator("get_parameters_by_path")
        for page in pages.paginate(Path="/" + sys.argv[3].rstrip("/"), Recursive=True):
            names += [p["Name"] for p in page["Parameters"]]
        print(json.dumps(sorted(names)))
    elif sys.argv[2] == "--create-binary-secret":
        created = client("secretsmanager", endpoint).create_secret(
            Name=sys.argv[3], SecretBinary=sys.argv[4].encode()
        )
        print(json.dumps({sys.argv[3]: created["ARN"]}))
    elif sys.argv[2] == "--iam-setup":
        iam_setup(endpoint, sys.argv[3], sys.argv[4])
    elif sys.argv[2] == "--iam-users":
        iam_users(endpoint, sys.argv[3], sys.argv[4])
    elif sys.argv[2] == "--many":
        seed_many(endpoint, sys.argv[3:])
    elif sys.argv[2] == "--delete-secret":
        client("secretsmanager", endpoint).delete_secret(
            SecretId=sys.argv[3], ForceDeleteWithoutRecovery=True
        )
    else:
        seed(endpoint, sys.argv[2])


main()

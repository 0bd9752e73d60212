#!/usr/bin/env python3
"""The DynamoDB table of template.yaml, for local use. template.yaml is the only place the
key schema is written down; this script reads it so moto tables can never drift from it.

  table-definition.py --print-json     {AttributeDefinitions, KeySchema,
                                        GlobalSecondaryIndexes, TimeToLiveAttribute, StreamSpecification}
  table-definition.py --create NAME    create the table as NAME at $AWS_ENDPOINT_URL (moto),
                                       on-demand, TTL and stream enabled; an existing table is fine
                                       (its stream is turned on if it has none)
  table-definition.py --delete NAME    delete it (a missing table is fine)

--resource LOGICAL_ID picks the table when the template ever has more than one;
--template PATH reads another template (tests of this script).
Needs PyYAML and boto3 (infra/.venv has both: run infra/ensure-tools.sh test).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !Sub, !If...) into their
    long form ({"Ref": ...}, {"Fn::Sub": ...}) instead of failing on them."""


def _short_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _short_tag)


def literal(value, where):
    """The local table must not depend on stack parameters: refuse intrinsics."""
    text = json.dumps(value)
    if '"Ref"' in text or '"Fn::' in text:
        sys.exit(f"table-definition: {where} uses an intrinsic function; keep it literal")
    return value


def definition(template, resource_id=None):
    resources = yaml.load(Path(template).read_text(), Loader=CfnLoader)["Resources"]
    tables = {k: v for k, v in resources.items() if v.get("Type") == "AWS::DynamoDB::Table"}
    if resource_id:
        tables = {resource_id: tables[resource_id]} if resource_id in tables else {}
    if len(tables) != 1:
        sys.exit(f"table-definition: expected one DynamoDB table, found {sorted(tables) or 'none'}"
                 " (use --resource)")
    (logical_id, table), = tables.items()
    props = table["Properties"]
    gsis = [
        # Throughput settings don't apply to on-demand tables; keep the shape only.
        {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection") if k in gsi}
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    ttl = props.get("TimeToLiveSpecification") or {}
    return literal({
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": gsis,
        "TimeToLiveAttribute": ttl.get("AttributeName") if ttl.get("Enabled") else None,
        "StreamSpecification": props.get("StreamSpecification"),
    }, logical_id)


def client():
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        # Guard: this is for moto, never for a real account.
        sys.exit("table-definition: AWS_ENDPOINT_URL is not set (source infra/env.sh)")
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def create(name, spec):
    ddb = client()
    args = {
        "TableName": name,
        "AttributeDefinitions": spec["AttributeDefinitions"],
        "KeySchema": spec["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec["GlobalSecondaryIndexes"]:
        args["GlobalSecondaryIndexes"] = spec["GlobalSecondaryIndexes"]
    stream = spec.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, **stream}
    try:
        ddb.create_table(**args)
        print(f"table-definition: created table {name}")
    except ddb.exceptions.ResourceInUseException:
        print(f"table-definition: table {name} already exists")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if stream and not ddb.describe_table(TableName=name)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
        # A table from before the stream existed (moto keeps state across restarts of watch).
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, **stream})
    if spec["TimeToLiveAttribute"]:
        status = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        # Re-enabling an enabled TTL is an error on real DynamoDB, so only do it once.
        if status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": spec["TimeToLiveAttribute"], "Enabled": True},
            )


def delete(name):
    ddb = client()
    try:
        ddb.delete_table(TableName=name)
        print(f"table-definition: deleted table {name}")
    except ddb.exceptions.ResourceNotFoundException:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--print-json", action="store_true")
    mode.add_argument("--create", metavar="NAME")
    mode.add_argument("--delete", metavar="NAME")
    parser.add_argument("--resource", metavar="LOGICAL_ID")
    parser.add_argument("--template", default=TEMPLATE, help="default: the repo's template.yaml")
    args = parser.parse_args()

    spec = definition(args.template, args.resource)
    if args.print_json:
        print(json.dumps(spec, indent=2))
    elif args.create:
        create(args.create, spec)
    else:
        delete(args.delete)


if __name__ == "__main__":
    main()

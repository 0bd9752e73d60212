#!/usr/bin/env python3
"""The courier's trigger, locally: what Lambda's event source mapping does in a deployed stack.

Reads the table's DynamoDB Stream in moto, keeps the records template.yaml's filter keeps
(inserted outbox items, `OUT#...`), and invokes the `courier` function that `cargo lambda watch`
serves, in batches of up to 10, as `{"Records": [...]}`. Records the courier reports back in
`batchItemFailures` are handed over again with a growing pause, up to 10 times, as Lambda's
MaximumRetryAttempts would; then they are logged as dead letters.

  infra/stream-courier.py TABLE_NAME          (infra/local-stack.sh starts it)

Needs boto3 (infra/.venv) and AWS_ENDPOINT_URL pointing at moto (infra/env.sh).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3

PORT = int(os.environ.get("LOCAL_API_PORT", "9000"))
INVOKE = f"http://127.0.0.1:{PORT}/2015-03-31/functions/courier/invocations"
BATCH = 10
MAX_RETRIES = 10


def log(message):
    print(f"stream-courier: {message}", file=sys.stderr, flush=True)


def wanted(record):
    pk = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S", "")
    return record.get("eventName") == "INSERT" and pk.startswith("OUT#")


reached = False


def invoke(records):
    """The records the courier asks to have again (all of them when it could not be reached)."""
    global reached
    body = json.dumps({"Records": records}, default=str).encode()
    request = urllib.request.Request(INVOKE, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        # The first invocation waits for watch to build and start the courier. Later ones take
        # a second; one that hangs was lost when watch restarted the courier on a file change.
        with urllib.request.urlopen(request, timeout=30 if reached else 300) as response:
            answer = json.loads(response.read() or b"{}")
        reached = True
    except (urllib.error.URLError, OSError, ValueError) as error:
        log(f"courier not reachable ({error}); trying again")
        return records
    failed = {f.get("itemIdentifier") for f in (answer or {}).get("batchItemFailures", [])}
    return [r for r in records if r["dynamodb"]["SequenceNumber"] in failed]


def main():
    table = sys.argv[1]
    dynamodb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not arn:
        sys.exit(f"stream-courier: table {table} has no stream (infra/table-definition.py --create turns it on)")
    # The last sequence number handed over, per shard. A fresh iterator is asked for on every
    # pass rather than following NextShardIterator: a refused TransactWriteItems makes moto
    # restore a copy of the table, stream shard included, and an iterator chained from before
    # it keeps reading the old shard, which never grows again (the outbox stalled silently).
    handed = {}
    retries = []  # (due, attempt, records)
    log(f"delivering the outbox of {table} through the courier at {INVOKE}")
    while True:
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": handed[shard_id]}
                if shard_id in handed
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **position)["ShardIterator"]
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if page["Records"]:
                handed[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
            records = [r for r in page["Records"] if wanted(r)]
            for start in range(0, len(records), BATCH):
                again = invoke(records[start:start + BATCH])
                if again:
                    retries.append((time.monotonic() + 1, 1, again))
        now = time.monotonic()
        due, retries = [r for r in retries if r[0] <= now], [r for r in retries if r[0] > now]
        for _, attempt, records in due:
            again = invoke(records)
            if again and attempt < MAX_RETRIES:
                retries.append((now + min(2 ** attempt, 30), attempt + 1, again))
            elif again:
                log(f"dead letter: {len(again)} record(s) failed {MAX_RETRIES + 1} times")
        time.sleep(0.2)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass

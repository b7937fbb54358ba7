#!/usr/bin/env python3
"""Writes the generated operations blocks of template.yaml: for every function its
log group (retention `LogRetentionInDays`) and the `LoggingConfig` that points the function at
it, its Errors and Throttles alarms, and for every SQS queue its visible messages alarm, each
to the AlarmTopic. Run it after adding a function or a queue; tests/tests/api/template.rs and
scripts/check_deploy.py (the SAM-transformed template) check that every function and queue has
them, whether or not this script wrote them.

    python3 scripts/gen_operations.py        # rewrites the blocks between the markers in place
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
BEGIN = "  # BEGIN generated alarms (scripts/gen_operations.py)\n"
END = "  # END generated alarms\n"
LOGS_BEGIN = "  # BEGIN generated log groups (scripts/gen_operations.py)\n"
LOGS_END = "  # END generated log groups\n"


def resources(text, kind):
    """(logical id, condition or None) of each resource of `kind`, in template order."""
    section = text[text.index("\nResources:\n"):]
    section = section[: section.find("\nOutputs:\n")]
    heads = list(re.finditer(r"^  (\w+):$", section, re.M))
    found = []
    for head, after in zip(heads, heads[1:] + [None]):
        body = section[head.end(): after.start() if after else len(section)]
        if re.search(r"^    Type: " + re.escape(kind) + r"$", body, re.M):
            condition = re.search(r"^    Condition: (\w+)$", body, re.M)
            found.append((head.group(1), condition.group(1) if condition else None))
    return found


def alarm(name, condition, description, namespace, metric, dimension, value, statistic):
    lines = [f"  {name}:", "    Type: AWS::CloudWatch::Alarm"]
    if condition:
        lines.append(f"    Condition: {condition}")
    lines += [
        "    Properties:",
        "      AlarmDescription: '" + description.replace("'", "''") + "'",
        f"      Namespace: {namespace}",
        f"      MetricName: {metric}",
        f"      Dimensions: [{{Name: {dimension}, Value: {value}}}]",
        f"      Statistic: {statistic}",
        "      Period: 300",
        "      EvaluationPeriods: 1",
        "      Threshold: 0",
        "      ComparisonOperator: GreaterThanThreshold",
        "      TreatMissingData: notBreaching",
        "      AlarmActions: [!Ref AlarmTopic]",
        "      OKActions: [!Ref AlarmTopic]",
    ]
    return "\n".join(lines) + "\n"


def block(text):
    out = [BEGIN]
    for function, condition in resources(text, "AWS::Serverless::Function"):
        out.append(alarm(
            f"{function}ErrorsAlarm", condition,
            f"{function} failed an invocation (an error or a timeout) in 5 minutes - see its log group and docs/src/operations/monitor.md.",
            "AWS/Lambda", "Errors", "FunctionName", f"!Ref {function}", "Sum"))
        out.append(alarm(
            f"{function}ThrottlesAlarm", condition,
            f"{function} was throttled in 5 minutes (account or function concurrency) - see docs/src/operations/monitor.md.",
            "AWS/Lambda", "Throttles", "FunctionName", f"!Ref {function}", "Sum"))
    for queue, condition in resources(text, "AWS::SQS::Queue"):
        out.append(alarm(
            f"{queue}NotEmptyAlarm", condition,
            f"{queue} holds messages: work that failed after every retry - inspect, fix, redrive; see docs/src/operations/monitor.md.",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
            f"!GetAtt {queue}.QueueName", "Maximum"))
    out.append(END)
    return "\n".join(out)


def log_groups(text):
    """A log group per function, kept `LogRetentionInDays` days. Unnamed: CloudFormation names
    it, so a stack whose functions already wrote to `/aws/lambda/<name>` (which Lambda makes on
    first use) can take it without a name clash."""
    out = [LOGS_BEGIN]
    for function, condition in resources(text, "AWS::Serverless::Function"):
        lines = [f"  {function}LogGroup:", "    Type: AWS::Logs::LogGroup"]
        if condition:
            lines.append(f"    Condition: {condition}")
        lines += [
            "    Metadata:",
            "      checkov:",
            "        skip:",
            "          - id: CKV_AWS_158",
            "            comment: Encrypted by CloudWatch Logs with its own key; a customer managed KMS key adds cost and key administration, and the logs hold no file contents or tokens.",
            "    Properties:",
            "      RetentionInDays: !Ref LogRetentionInDays",
        ]
        out.append("\n".join(lines) + "\n")
    out.append(LOGS_END)
    return "\n".join(out)


def with_logging_config(text):
    """Each function's `LoggingConfig` names its generated log group (first in Properties)."""
    section_start = text.index("\nResources:\n")
    heads = list(re.finditer(r"^  (\w+):$", text[section_start:], re.M))
    functions = {f for f, _ in resources(text, "AWS::Serverless::Function")}
    # From the last function to the first, so earlier offsets stay valid.
    for head in reversed(heads):
        name = head.group(1)
        if name not in functions:
            continue
        at = section_start + head.end()
        properties = text.index("\n    Properties:\n", at) + len("\n    Properties:\n")
        config = f"      LoggingConfig:\n        LogGroup: !Ref {name}LogGroup\n"
        rest = text[properties:]
        old = re.match(r"      LoggingConfig:\n(        .*\n)+", rest)
        if old:
            rest = rest[old.end():]
        text = text[:properties] + config + rest
    return text


def replace_block(text, begin, end, new):
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < 0:
        sys.exit(f"{TEMPLATE}: the markers {begin.strip()!r} and {end.strip()!r} are missing")
    return text[:start] + new + text[stop + len(end):]


def main():
    text = TEMPLATE.read_text()
    text = with_logging_config(text)
    text = replace_block(text, LOGS_BEGIN, LOGS_END, log_groups(text))
    text = replace_block(text, BEGIN, END, block(text))
    TEMPLATE.write_text(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the alarms block of template.yaml (SPEC 21): for every function its Errors and
Throttles, for every SQS queue its visible messages, each to the AlarmTopic. Run it after
adding a function or a queue; tests/tests/api/template.rs checks that every function and
queue has its alarms, whether or not this script wrote them.

    python3 scripts/gen_alarms.py        # rewrites the block between the markers in place
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
BEGIN = "  # BEGIN generated alarms (scripts/gen_alarms.py)\n"
END = "  # END generated alarms\n"


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
            f"{function} failed an invocation (an error or a timeout) in 5 minutes - see its log group; README \"After you deploy\".",
            "AWS/Lambda", "Errors", "FunctionName", f"!Ref {function}", "Sum"))
        out.append(alarm(
            f"{function}ThrottlesAlarm", condition,
            f"{function} was throttled in 5 minutes (account or function concurrency) - README \"After you deploy\".",
            "AWS/Lambda", "Throttles", "FunctionName", f"!Ref {function}", "Sum"))
    for queue, condition in resources(text, "AWS::SQS::Queue"):
        out.append(alarm(
            f"{queue}NotEmptyAlarm", condition,
            f"{queue} holds messages: work that failed after every retry - inspect, fix, redrive; README \"After you deploy\".",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
            f"!GetAtt {queue}.QueueName", "Maximum"))
    out.append(END)
    return "\n".join(out)


def main():
    text = TEMPLATE.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        sys.exit(f"{TEMPLATE}: the markers {BEGIN.strip()!r} and {END.strip()!r} are missing")
    TEMPLATE.write_text(text[:start] + block(text) + text[end + len(END):])


if __name__ == "__main__":
    main()

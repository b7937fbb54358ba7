"""Deploy confidence (SPEC 21): the template as CloudFormation will receive it — after the SAM
transform, made offline as `sam validate` makes it (`scripts/iam.py`) — holds what a running
stack needs, checked resource by resource:

- every Lambda function has its own execution role (assumable by Lambda only), active X-Ray
  tracing, and a log group of its own with a retention;
- every function invoked asynchronously (by S3 notifications or EventBridge rules) has an
  on-failure destination, and so does every event source mapping (the table's stream);
- every function has its Errors and Throttles alarms, every queue its not-empty alarm, each to
  the alarm topic;
- every route function can be invoked by the HTTP API, and no function by anyone else;
- every `Ref` / `Fn::GetAtt` names a resource or parameter that exists.

Prints a line per function, fails (exit 1) naming every gap.

    python scripts/check_deploy.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iam  # noqa: E402

PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackId", "AWS::StackName",
          "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs"}


def refs(node):
    """Every logical id a `Ref` or `Fn::GetAtt` (or `${...}` in `Fn::Sub`) names."""
    import re

    if isinstance(node, list):
        for item in node:
            yield from refs(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".", 1)[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                local = {} if isinstance(value, str) else value[1]
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    name = name.split(".", 1)[0]
                    if name not in local:
                        yield name
                yield from refs(local)
            else:
                yield from refs(value)


def target_of(node):
    """The logical id a `Ref`/`Fn::GetAtt` value points at, else None."""
    if isinstance(node, dict):
        if "Ref" in node:
            return node["Ref"]
        if "Fn::GetAtt" in node:
            value = node["Fn::GetAtt"]
            return value[0] if isinstance(value, list) else value.split(".", 1)[0]
    return None


def check(template):
    """(functions, the gaps found, a line per function saying what it has)."""
    resources = template["Resources"]
    parameters = set(template.get("Parameters", {}))
    problems, lines = [], []
    of_type = lambda kind: {k: v for k, v in resources.items() if v["Type"] == kind}  # noqa: E731
    functions = of_type("AWS::Lambda::Function")
    alarms = of_type("AWS::CloudWatch::Alarm")

    for name in sorted(set(refs(resources)) | set(refs(template.get("Outputs", {})))):
        if name not in resources and name not in parameters and name not in PSEUDO:
            problems.append(f"a Ref or GetAtt names {name}, which the template does not define")

    def alarmed(metric, namespace, dimension, target):
        for alarm in alarms.values():
            p = alarm["Properties"]
            if p.get("MetricName") != metric or p.get("Namespace") != namespace:
                continue
            if not any(d.get("Name") == dimension and target_of(d.get("Value")) == target
                       for d in p.get("Dimensions", [])):
                continue
            if not any(target_of(a) == "AlarmTopic" for a in p.get("AlarmActions", [])):
                continue
            return True
        return False

    # Who invokes each function: permissions, rules, S3 notifications, mappings.
    permissions = {}
    for permission in of_type("AWS::Lambda::Permission").values():
        p = permission["Properties"]
        permissions.setdefault(target_of(p["FunctionName"]), set()).add(p["Principal"])
    asynchronous = set()
    for rule in of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            if target_of(target.get("Arn")) in functions:
                asynchronous.add(target_of(target["Arn"]))
    for bucket in of_type("AWS::S3::Bucket").values():
        notification = bucket["Properties"].get("NotificationConfiguration", {})
        for config in notification.get("LambdaConfigurations", []):
            asynchronous.add(target_of(config["Function"]))
    invoke_configs = {target_of(c["Properties"]["FunctionName"]) or c["Properties"]["FunctionName"]: c
                      for c in of_type("AWS::Lambda::EventInvokeConfig").values()}
    mappings = {}
    for mapping in of_type("AWS::Lambda::EventSourceMapping").values():
        mappings.setdefault(target_of(mapping["Properties"]["FunctionName"]), []).append(mapping)

    for name, function in sorted(functions.items()):
        p = function["Properties"]
        found = []
        role = resources.get(target_of(p.get("Role")) or "")
        if not role or role["Type"] != "AWS::IAM::Role":
            problems.append(f"{name}: no execution role of its own")
        else:
            principals = [s.get("Principal", {}).get("Service")
                          for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
            if principals != ["lambda.amazonaws.com"] and principals != [["lambda.amazonaws.com"]]:
                problems.append(f"{name}: its role may be assumed by {principals}, not Lambda alone")
            found.append("role")
        if p.get("TracingConfig", {}).get("Mode") != "Active":
            problems.append(f"{name}: tracing is not active")
        else:
            found.append("traced")
        group = resources.get(target_of(p.get("LoggingConfig", {}).get("LogGroup")) or "")
        if not group or group["Type"] != "AWS::Logs::LogGroup":
            problems.append(f"{name}: no log group of its own (LoggingConfig.LogGroup)")
        elif "RetentionInDays" not in group["Properties"]:
            problems.append(f"{name}: its log group keeps logs forever (no RetentionInDays)")
        else:
            found.append("log group")
        if name in asynchronous:
            config = invoke_configs.get(name)
            destination = (config or {}).get("Properties", {}).get("DestinationConfig", {}) \
                .get("OnFailure", {}).get("Destination")
            if not destination:
                problems.append(f"{name}: invoked asynchronously, without an on-failure destination")
            else:
                found.append(f"async → {target_of(destination)}")
        for mapping in mappings.get(name, []):
            destination = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}) \
                .get("Destination")
            if not destination:
                problems.append(f"{name}: an event source mapping without an on-failure destination")
            else:
                found.append(f"stream → {target_of(destination)}")
        for metric in ("Errors", "Throttles"):
            if not alarmed(metric, "AWS/Lambda", "FunctionName", name):
                problems.append(f"{name}: no {metric} alarm to the AlarmTopic")
        found.append("alarms")
        principals = permissions.get(name, set())
        unexpected = principals - {"apigateway.amazonaws.com", "s3.amazonaws.com",
                                   "events.amazonaws.com", "appsync.amazonaws.com"}
        if unexpected:
            problems.append(f"{name}: may be invoked by {sorted(unexpected)}")
        if principals:
            found.append("invoked by " + ", ".join(sorted(p.split(".")[0] for p in principals)))
        lines.append(f"  {name}: {'; '.join(found)}")

    for name in sorted(of_type("AWS::SQS::Queue")):
        if not alarmed("ApproximateNumberOfMessagesVisible", "AWS/SQS", "QueueName", name):
            problems.append(f"{name}: no not-empty alarm to the AlarmTopic")
    return len(functions), problems, lines


def main():
    transformed = iam.transformed_template()
    count, problems, lines = check(transformed)
    print("\n".join(lines))
    if problems:
        print(f"\nscripts/check_deploy.py: {len(problems)} gaps in the transformed template:",
              file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"the transformed template: {count} functions, each with its role, tracing, log group, "
          f"alarms and (where asynchronous) on-failure destination; every queue alarmed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

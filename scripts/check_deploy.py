"""Deploy confidence: the template as CloudFormation will receive it — after the SAM
transform, made offline as `sam validate` makes it (`scripts/iam.py`) — holds what a running
stack needs, checked resource by resource:

- every Lambda function has its own execution role (assumable by Lambda only), active X-Ray
  tracing, and a log group of its own with a retention;
- every function invoked asynchronously (by S3 notifications or EventBridge rules) has an
  on-failure destination, and so does every event source mapping (the table's stream);
- every function has its Errors and Throttles alarms, every queue its not-empty alarm, each to
  the alarm topic;
- every route function can be invoked by the HTTP API, and no function by anyone else;
- every `Ref` / `Fn::GetAtt` names a resource or parameter that exists;
- in both identity modes — `JwtIssuer` empty (the stack's own Cognito user pool) and set (your
  issuer) — with the conditions resolved, every reference still resolves, and the HTTP API,
  the realtime API and the console trust exactly that mode's issuer and audience; the stack's
  app client cannot write `custom:tenant`, and only an administrator creates users.

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


MODES = {
    "the stack's own user pool (JwtIssuer empty)": {"JwtIssuer": "", "JwtAudience": [""]},
    "your issuer (JwtIssuer set)": {"JwtIssuer": "https://issuer.example.test",
                                    "JwtAudience": ["stowage-tests"]},
}


def condition_value(node, conditions, parameters):
    if isinstance(node, dict):
        (key, value), = node.items()
        if key == "Fn::Equals":
            a, b = (condition_value(v, conditions, parameters) for v in value)
            return a == b
        if key == "Fn::Not":
            return not condition_value(value[0], conditions, parameters)
        if key == "Fn::And":
            return all(condition_value(v, conditions, parameters) for v in value)
        if key == "Fn::Or":
            return any(condition_value(v, conditions, parameters) for v in value)
        if key == "Condition":
            return conditions[value]
        if key == "Ref":
            return parameters.get(value, node)
    return node


def resolved(template, parameters):
    """The template with its conditions decided for these parameter values: resources and
    outputs whose condition is false dropped, every `Fn::If` replaced by its branch."""
    raw = template.get("Conditions", {})
    conditions = {}
    for name in raw:
        conditions[name] = bool(condition_value(raw[name], conditions | {n: None for n in raw}, parameters))

    def walk(node):
        if isinstance(node, list):
            return [walk(n) for n in node]
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return walk(yes if conditions[name] else no)
            return {k: walk(v) for k, v in node.items()}
        return node

    out = walk({k: v for k, v in template.items() if k not in ("Resources", "Outputs")})
    for section in ("Resources", "Outputs"):
        out[section] = {name: walk(item) for name, item in template.get(section, {}).items()
                        if conditions.get(item.get("Condition"), True)}
    return out, conditions


def check_identity(mode, template, parameters):
    """The gaps of one identity mode, the template resolved for it."""
    problems = []
    resources = template["Resources"]
    names = set(template.get("Parameters", {})) | set(resources) | PSEUDO
    for name in sorted(set(refs(resources)) | set(refs(template["Outputs"]))):
        if name not in names:
            problems.append(f"{mode}: a Ref or GetAtt names {name}, which this mode does not create")
    own = parameters["JwtIssuer"] == ""
    issuer = {"Fn::GetAtt": ["UserPool", "ProviderURL"]} if own else {"Ref": "JwtIssuer"}
    pool, client = resources.get("UserPool"), resources.get("UserPoolClient")
    if own != (pool is not None) or own != (client is not None):
        problems.append(f"{mode}: the user pool and its client are {'missing' if own else 'created'}")
    if own and pool and client:
        if not pool["Properties"].get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly"):
            problems.append(f"{mode}: anyone may sign up to the user pool")
        writable = client["Properties"].get("WriteAttributes")
        if writable is None or "custom:tenant" in writable:
            problems.append(f"{mode}: a user may write their own custom:tenant")
        if "custom:tenant" not in client["Properties"].get("ReadAttributes", []):
            problems.append(f"{mode}: ID tokens do not carry custom:tenant")
        for output in ("UserPoolId", "UserPoolClientId", "CreateUserCommand", "TokenCommand"):
            if output not in template["Outputs"]:
                problems.append(f"{mode}: no {output} output")
    for name, resource in resources.items():
        p = resource.get("Properties", {})
        if resource["Type"] == "AWS::ApiGatewayV2::Api" and "Body" in p:
            # SAM writes the HTTP API's JWT authorizer into the API's OpenAPI body.
            schemes = p["Body"].get("components", {}).get("securitySchemes", {})
            jwts = [scheme["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
                    for scheme in schemes.values()
                    if "jwtConfiguration" in scheme.get("x-amazon-apigateway-authorizer", {})]
            if not jwts:
                problems.append(f"{mode}: {name} has no JWT authorizer")
            audience = [{"Ref": "UserPoolClient"}] if own else {"Ref": "JwtAudience"}
            for jwt in jwts:
                if jwt.get("issuer") != issuer:
                    problems.append(f"{mode}: the HTTP API trusts the issuer {jwt.get('issuer')}")
                if jwt.get("audience") != audience:
                    problems.append(f"{mode}: the HTTP API accepts the audience {jwt.get('audience')}")
        if resource["Type"] == "AWS::AppSync::Api":
            for provider in p.get("EventConfig", {}).get("AuthProviders", []):
                oidc = provider.get("OpenIDConnectConfig")
                if oidc and oidc.get("Issuer") != issuer:
                    problems.append(f"{mode}: the realtime API trusts the issuer {oidc.get('Issuer')}")
        variables = p.get("Environment", {}).get("Variables", {})
        if "STOWAGE_CONSOLE_ISSUER" in variables and variables["STOWAGE_CONSOLE_ISSUER"] != issuer:
            problems.append(f"{mode}: the console signs in at {variables['STOWAGE_CONSOLE_ISSUER']}")
        claim = variables.get("STOWAGE_TENANT_CLAIM")
        if claim is not None and claim != ("custom:tenant" if own else {"Ref": "TenantClaim"}):
            problems.append(f"{mode}: {name} reads the tenant from {claim}")
    return problems


def main():
    transformed = iam.transformed_template()
    count, problems, lines = check(transformed)
    for mode, parameters in MODES.items():
        template, _ = resolved(transformed, parameters)
        gaps = check_identity(mode, template, parameters)
        problems += gaps
        if not gaps:
            lines.append(f"  identity, {mode}: issuer, audience, tenant claim and references hold")
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

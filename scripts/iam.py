"""Least privilege, enforced: each Lambda function's IAM policy as `template.yaml` gives it, and
an evaluator of IAM policies against the AWS calls the functions make.

`scripts/moto_server.py` uses this module to run every function of the tests with only its own
policy: a test acts as a function by signing with an access key id that names it and its test
world (`SW<world>F<binary>`, see `tests/src/moto.rs`), and the server answers a call that the
function's policy does not allow with the service's own `AccessDenied`, as AWS would. The
policies are read from the template **after the SAM transform** (what CloudFormation deploys:
the inline policies of each function's generated role), with `Ref`, `Fn::GetAtt`, `Fn::Sub`,
`Fn::Join`, `Fn::Select` and `Fn::Split` resolved against the test world's table, bucket,
event bus and AppSync API. The evaluator follows IAM's rules for identity policies: an explicit
`Deny` wins, then any `Allow`; `Action`/`NotAction` match case-insensitively with `*` and `?`,
`Resource`/`NotResource` case-sensitively with the same wildcards, and `Condition` blocks are
evaluated with the request's context keys (the string, ARN, numeric, boolean and `Null`
operators, `...IfExists`, `ForAllValues:` and `ForAnyValue:`).

What is out of its scope, deliberately: managed policies (SAM's `AWSLambdaBasicExecutionRole`
and, with tracing, `AWSXrayWriteOnlyAccess`, which Lambda's own log and trace agents use, not
the function's code), resource-based policies (the bucket's TLS-only policy), and the calls
Lambda's pollers make with the role (reading the table's stream, sending to the on-failure
queues), which no function's code makes.

`python scripts/iam.py policies` prints each function's resolved statements for a sample world.
"""

import copy
import fnmatch
import json
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"  # the tests' region
PARTITION = "aws"


# --- the template, transformed -------------------------------------------------------------


def transformed_template(path: Path = ROOT / "template.yaml") -> dict:
    """The template as CloudFormation receives it after the SAM transform, made offline (as
    `sam validate` does: local `CodeUri`s become S3 locations first)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(path.read_text())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/code.zip"
    managed = {
        "AWSLambdaBasicExecutionRole":
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    }
    translator = Translator(
        managed_policy_map=managed,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=REGION),
    )
    parameters = {
        "JwtIssuer": "https://issuer.example.test",
        "JwtAudience": "stowage-tests",
    }
    return translator.translate(
        template, parameter_values=parameters, get_managed_policy_map=lambda: managed
    )


def function_statements(transformed: dict, original: dict) -> dict:
    """binary name -> the Allow/Deny statements of the inline policies of its role, unresolved,
    in order (a statement's index is its place in this list)."""
    resources = transformed["Resources"]
    out = {}
    for logical_id, resource in original["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            raise SystemExit(f"{logical_id} has no Metadata.BuildProperties.Binary")
        role_ref = resources[logical_id]["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise SystemExit(f"{logical_id}: expected the role SAM generates, found {role_ref!r}")
        role_id = role_ref["Fn::GetAtt"][0]
        role = resources[role_id]
        statements = []
        for policy in role["Properties"].get("Policies", []):
            # The function's own `Policies` (SAM names them `<Role>Policy<n>`), not the
            # statements SAM adds for Lambda itself (sending to an on-failure destination).
            if not re.fullmatch(rf"{role_id}Policy\d+", policy.get("PolicyName", "")):
                continue
            document = policy["PolicyDocument"]
            found = document.get("Statement", [])
            statements.extend(found if isinstance(found, list) else [found])
        out[binary] = statements
    return out


def original_template(path: Path = ROOT / "template.yaml") -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


# --- a test world: the names the intrinsics resolve to -----------------------------------------


class World:
    """The resources one test's functions run against (a table and bucket of its own, maybe an
    event bus and an AppSync API)."""

    def __init__(self, world_id: str, table=None, bus=None, appsync_api=None):
        self.id = world_id
        # The bucket is named from the stack id's third segment (template.yaml): a stack id
        # ending in `/test-<suffix>` names the tests' bucket `stowage-test-<suffix>`.
        self.stack_id = f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/stowage/{world_id}"
        self.table = table
        self.bus = bus
        self.appsync_api = appsync_api

    def update(self, values: dict):
        for key in ("table", "bus", "appsync_api"):
            if values.get(key):
                setattr(self, key, values[key])

    def ref(self, name: str):
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackId": self.stack_id,
            "AWS::StackName": "stowage",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name == "FilesTable":
            return self.need("table")
        if name == "FileEventsBus":
            return self.need("bus")
        # Anything else resolves to a name no call can match.
        return f"unresolved-{name}"

    def get_att(self, logical_id: str, attribute: str):
        if (logical_id, attribute) == ("FilesTable", "Arn"):
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.need('table')}"
        if (logical_id, attribute) == ("FilesTable", "StreamArn"):
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.need('table')}/stream/*"
        if (logical_id, attribute) == ("FileEventsBus", "Arn"):
            return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{self.need('bus')}"
        if (logical_id, attribute) == ("RealtimeApi", "ApiArn"):
            return f"arn:{PARTITION}:appsync:{REGION}:{ACCOUNT}:apis/{self.need('appsync_api')}"
        if (logical_id, attribute) == ("RealtimeApi", "ApiId"):
            return self.need("appsync_api")
        return f"arn:unresolved:{logical_id}.{attribute}"

    def need(self, what: str) -> str:
        value = getattr(self, what)
        # A world without an event bus (most tests) resolves the bus to a name no call names.
        return value if value else f"no-{what}-in-world-{self.id}"


def resolve(node, world: World):
    """`node` with every intrinsic function resolved against `world`."""
    if isinstance(node, list):
        return [resolve(item, world) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (name, arg), = node.items()
        if name == "Ref":
            return world.ref(arg)
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return world.get_att(logical_id, attribute)
        if name == "Fn::Join":
            separator, items = arg
            return separator.join(str(v) for v in resolve(items, world))
        if name == "Fn::Select":
            index, items = arg
            return resolve(items, world)[int(resolve(index, world))]
        if name == "Fn::Split":
            separator, text = arg
            return str(resolve(text, world)).split(separator)
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {k: resolve(v, world) for k, v in variables.items()}

            def substitute(match):
                key = match.group(1)
                if key.startswith("!"):
                    return "${" + key[1:] + "}"
                if key in variables:
                    return str(variables[key])
                if "." in key:
                    return str(world.get_att(*key.split(".", 1)))
                return str(world.ref(key))

            return re.sub(r"\$\{([^}]+)\}", substitute, text)
    return {key: resolve(value, world) for key, value in node.items()}


# --- the evaluator --------------------------------------------------------------------------


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, case_sensitive: bool) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards: `*` any run of characters (across `/` and `:` too), `?` one character.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    values = None
    for name, value in context.items():
        if name.lower() == key.lower():
            values = _as_list(value)
    quantifier = None
    if ":" in operator and operator.split(":", 1)[0] in ("ForAllValues", "ForAnyValue"):
        quantifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    expected = [str(v) for v in _as_list(expected)]
    if operator == "Null":
        wants_missing = expected[0].lower() == "true"
        return (values is None) == wants_missing
    if values is None:
        return quantifier == "ForAllValues" or if_exists or operator.startswith(("StringNot", "ArnNot"))

    def one(value) -> bool:
        value = str(value)
        if operator == "StringEquals":
            return value in expected
        if operator == "StringNotEquals":
            return value not in expected
        if operator == "StringEqualsIgnoreCase":
            return value.lower() in [e.lower() for e in expected]
        if operator == "StringNotEqualsIgnoreCase":
            return value.lower() not in [e.lower() for e in expected]
        if operator in ("StringLike", "ArnLike", "ArnEquals"):
            return any(_glob(e, value, True) for e in expected)
        if operator in ("StringNotLike", "ArnNotLike", "ArnNotEquals"):
            return not any(_glob(e, value, True) for e in expected)
        if operator == "Bool":
            return value.lower() in [e.lower() for e in expected]
        if operator.startswith("Numeric"):
            number = float(value)
            tests = {
                "NumericEquals": lambda e: number == e,
                "NumericNotEquals": lambda e: number != e,
                "NumericLessThan": lambda e: number < e,
                "NumericLessThanEquals": lambda e: number <= e,
                "NumericGreaterThan": lambda e: number > e,
                "NumericGreaterThanEquals": lambda e: number >= e,
            }
            return any(tests[operator](float(e)) for e in expected)
        raise ValueError(f"condition operator {operator} is not supported by scripts/iam.py")

    if quantifier == "ForAllValues":
        return all(one(v) for v in values)
    if quantifier == "ForAnyValue":
        return any(one(v) for v in values)
    return any(one(v) for v in values) if len(values) != 1 else one(values[0])


def _statement_matches(statement: dict, action: str, resource: str, context: dict) -> list:
    """The action patterns of `statement` that match the call (empty: it does not apply)."""
    if "Action" in statement:
        patterns = [p for p in _as_list(statement["Action"]) if _glob(p, action, False)]
    else:
        patterns = [] if any(_glob(p, action, False) for p in _as_list(statement["NotAction"])) else ["NotAction"]
    if not patterns:
        return []
    if "Resource" in statement:
        if not any(_glob(p, resource, True) for p in _as_list(statement["Resource"])):
            return []
    elif any(_glob(p, resource, True) for p in _as_list(statement.get("NotResource"))):
        return []
    for operator, pairs in (statement.get("Condition") or {}).items():
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, context):
                return []
    return patterns


def evaluate(statements: list, action: str, resource: str, context: dict | None = None):
    """(allowed, the (statement index, action pattern) pairs that allow the call)."""
    context = context or {}
    allowing = []
    for index, statement in enumerate(statements):
        patterns = _statement_matches(statement, action, resource, context)
        if not patterns:
            continue
        if statement.get("Effect") == "Deny":
            return False, []
        allowing.extend((index, pattern) for pattern in patterns)
    return bool(allowing), allowing


# --- which IAM actions a request needs ----------------------------------------------------

# IAM's action for each kind of item in a DynamoDB transaction.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def table_arn(table: str, index: str | None = None) -> str:
    arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def dynamodb_calls(operation: str, request: dict) -> list:
    """(IAM action, resource ARN, context) for one DynamoDB request: a transaction's items one
    by one, a batch's operation on every table it names, a `Query` or `Scan` of an index on the
    index."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        calls = []
        for entry in request.get("TransactItems", []):
            for kind, op in entry.items():
                calls.append((f"dynamodb:{TRANSACT_ACTIONS.get(kind, kind)}",
                              table_arn(op.get("TableName", "")),
                              leading_keys(op.get("Item") if kind == "Put" else op.get("Key"))))
        return calls
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table_arn(table), {})
                for table in request.get("RequestItems", {})]
    item = request.get("Item") if operation == "PutItem" else request.get("Key")
    return [(f"dynamodb:{operation}",
             table_arn(request.get("TableName", ""), request.get("IndexName")),
             leading_keys(item) if operation in SINGLE_ITEM_ACTIONS else {})]


# The operations on one item by its key: IAM gives them `dynamodb:LeadingKeys` (the item's
# partition key value) to match conditions on.
SINGLE_ITEM_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem")


def leading_keys(item) -> dict:
    """`dynamodb:LeadingKeys` for one item's key (Stowage's table: partition key `pk`)."""
    value = (item or {}).get("pk") if isinstance(item, dict) else None
    if isinstance(value, dict) and len(value) == 1:
        return {"dynamodb:LeadingKeys": [next(iter(value.values()))]}
    return {}


def events_calls(operation: str, request: dict) -> list:
    """(IAM action, resource ARN, context) for one EventBridge request."""
    if operation == "PutEvents":
        buses = {entry.get("EventBusName") or "default" for entry in request.get("Entries", [])}
        return [("events:PutEvents", bus if bus.startswith("arn:") else
                 f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{bus}", {})
                for bus in sorted(buses)]
    return [(f"events:{operation}", "*", {})]


def s3_calls(method: str, path: str, query: str, headers: dict, body: bytes) -> list:
    """(IAM action, resource ARN, context) for one path-style S3 request (S3's documented
    action for each operation; a copy also needs `GetObject` on its source, a multi-object
    delete `DeleteObject` on every key)."""
    parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{key}"
    copy_source = headers.get("x-amz-copy-source")

    def source_get():
        if not copy_source:
            return []
        source = urllib.parse.unquote(copy_source.split("?", 1)[0]).lstrip("/")
        return [("s3:GetObject", f"arn:{PARTITION}:s3:::{source}", {})]

    if not key:
        if method in ("GET", "HEAD") and "uploads" in params:
            return [("s3:ListBucketMultipartUploads", bucket_arn, {})]
        if method == "GET" and ("list-type" in params or not params or "prefix" in params):
            prefix = params.get("prefix", [""])[0]
            return [("s3:ListBucket", bucket_arn, {"s3:prefix": prefix})]
        if method == "HEAD":
            return [("s3:ListBucket", bucket_arn, {})]
        if method == "POST" and "delete" in params:
            keys = [element.text or "" for element in ElementTree.fromstring(body).iter()
                    if element.tag.rsplit("}", 1)[-1] == "Key"]
            return [("s3:DeleteObject", f"{bucket_arn}/{k}", {}) for k in keys]
        if method == "PUT" and not params:
            return [("s3:CreateBucket", bucket_arn, {})]
        return [(f"s3:Unmapped{method}Bucket", bucket_arn, {})]
    if method in ("GET", "HEAD"):
        if "uploadId" in params:
            return [("s3:ListMultipartUploadParts", object_arn, {})]
        if "tagging" in params:
            return [("s3:GetObjectTagging", object_arn, {})]
        return [("s3:GetObject", object_arn, {})]
    if method == "PUT":
        if "tagging" in params:
            return [("s3:PutObjectTagging", object_arn, {})]
        return [("s3:PutObject", object_arn, {})] + source_get()
    if method == "POST":
        # CreateMultipartUpload (`?uploads`) and CompleteMultipartUpload (`?uploadId=`).
        return [("s3:PutObject", object_arn, {})]
    if method == "DELETE":
        if "uploadId" in params:
            return [("s3:AbortMultipartUpload", object_arn, {})]
        return [("s3:DeleteObject", object_arn, {})]
    return [(f"s3:Unmapped{method}", object_arn, {})]


def access_key_of(authorization: str, query: str) -> str | None:
    """The access key id a SigV4 request (header or presigned query) was signed with."""
    match = re.search(r"Credential=([^/,\s]+)/", authorization or "")
    if match:
        return match.group(1)
    credential = urllib.parse.parse_qs(query).get("X-Amz-Credential")
    if credential:
        return credential[0].split("/", 1)[0]
    return None


ACTING_KEY = re.compile(r"^SW(?P<world>[a-z0-9-]+)F(?P<function>[a-z0-9-]+)$")


def acting(access_key: str | None):
    """(world id, function binary) named by an acting access key, else None (the test
    harness's own calls, which no policy restricts)."""
    match = ACTING_KEY.match(access_key or "")
    return (match.group("world"), match.group("function")) if match else None


# --- the enforcer that moto_server.py runs -------------------------------------------------


class Enforcer:
    """Holds the functions' policies, the test worlds, the denials per world, and every
    distinct way each function's calls were allowed (for `coverage`)."""

    def __init__(self):
        self._statements = None
        self.worlds = {}
        self.denials = {}
        # function -> set of frozensets of (statement index, action pattern): for each call,
        # the pairs that allowed it.
        self.allowed_by = {}
        self.calls = {}

    def statements(self) -> dict:
        if self._statements is None:
            self._statements = function_statements(transformed_template(), original_template())
        return self._statements

    def world(self, world_id: str) -> World:
        if world_id not in self.worlds:
            self.worlds[world_id] = World(world_id)
        return self.worlds[world_id]

    def check(self, world_id: str, function: str, calls: list) -> list:
        """The calls (action, resource, context) that `function`'s policy does not allow, after
        recording how the others were allowed."""
        statements = self.statements().get(function)
        if statements is None:
            return [(action, resource, f"no function in template.yaml builds {function}")
                    for action, resource, _ in calls]
        world = self.world(world_id)
        resolved = resolve(copy.deepcopy(statements), world)
        denied = []
        for action, resource, context in calls:
            allowed, pairs = evaluate(resolved, action, resource, context)
            if allowed:
                self.allowed_by.setdefault(function, set()).add(frozenset(pairs))
                self.calls.setdefault(function, set()).add(action)
            else:
                denied.append((action, resource, "not allowed by its policy"))
                self.denials.setdefault(world_id, []).append(
                    {"function": function, "action": action, "resource": resource,
                     "context": context})
        return denied

    def coverage(self) -> dict:
        return {
            "allowedBy": {f: [sorted(list(p)) for p in sets] for f, sets in self.allowed_by.items()},
            "actions": {f: sorted(a) for f, a in self.calls.items()},
        }


def unneeded(statements: dict, allowed_by: dict) -> dict:
    """function -> the (statement index, action) pairs whose removal no recorded call would
    notice: no call was allowed by that pair alone."""
    out = {}
    for function, function_statements_ in statements.items():
        needed = set()
        for pairs in allowed_by.get(function, []):
            pairs = {tuple(p) for p in pairs}
            # A call is denied without a pair only if no other pair allows it.
            if len(pairs) == 1:
                needed |= pairs
        missing = []
        for index, statement in enumerate(function_statements_):
            if statement.get("Effect") != "Allow":
                continue
            for action in _as_list(statement.get("Action")):
                if (index, action) not in needed:
                    missing.append((index, action))
        if missing:
            out[function] = missing
    return out


def check(endpoint: str) -> int:
    """Fails (1) if any action of any function's policy was needed by no call the tests made:
    removing it would make no test fail, so either a test is missing or the action is."""
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/_stowage/iam/coverage", timeout=30) as response:
        coverage = json.load(response)
    statements = function_statements(transformed_template(), original_template())
    allowed_by = {f: [[tuple(p) for p in pairs] for pairs in sets]
                  for f, sets in coverage["allowedBy"].items()}
    spare = unneeded(statements, allowed_by)
    total = sum(len(_as_list(s.get("Action"))) for ss in statements.values() for s in ss)
    exercised = sorted(f for f in statements if f in allowed_by)
    print(f"{len(exercised)} of {len(statements)} functions made AWS calls in the tests; "
          f"{total} policy actions in all")
    for function in sorted(statements):
        if function in allowed_by:
            print(f"  {function}: {', '.join(coverage['actions'].get(function, []))}")
        elif statements[function]:
            print(f"  {function}: no calls, yet its policy has statements")
    if spare:
        print("\nPolicy actions that no test needed (removing one would fail no test): remove "
              "them from template.yaml, or add the test that needs them:", file=sys.stderr)
        for function, pairs in sorted(spare.items()):
            for index, action in pairs:
                resource = statements[function][index].get("Resource")
                print(f"  {function}: statement {index}: {action} on {json.dumps(resource)}",
                      file=sys.stderr)
        return 1
    print("every action of every policy was needed by some call of the tests")
    return 0


def main():
    if sys.argv[1:2] == ["policies"]:
        world = World("test-example", table="stowage-test-example", bus="stowage-files",
                      appsync_api="exampleapi")
        for function, statements in function_statements(transformed_template(),
                                                        original_template()).items():
            print(function)
            print(json.dumps(resolve(statements, world), indent=1))
        return 0
    if sys.argv[1:2] == ["check"] and len(sys.argv) == 3:
        return check(sys.argv[2])
    raise SystemExit("usage: python scripts/iam.py policies | check MOTO_ENDPOINT")


if __name__ == "__main__":
    sys.exit(main())

"""Unit tests of scripts/iam.py: the IAM evaluator, the actions each request needs, and the
check that no policy action goes unneeded. Run by scripts/test (`python -m unittest`)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iam  # noqa: E402

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


class Evaluate(unittest.TestCase):
    def test_an_allow_names_its_action_and_resource(self):
        statements = [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE}]
        self.assertEqual(iam.evaluate(statements, "dynamodb:GetItem", TABLE),
                         (True, [(0, "dynamodb:GetItem")]))
        self.assertEqual(iam.evaluate(statements, "dynamodb:PutItem", TABLE), (False, []))
        self.assertEqual(iam.evaluate(statements, "dynamodb:GetItem", TABLE + "/index/x"),
                         (False, []))

    def test_actions_match_without_case_and_resources_with_it(self):
        statements = [{"Effect": "Allow", "Action": "S3:get*", "Resource": "arn:aws:s3:::b/files/*"}]
        self.assertTrue(iam.evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/files/a/1")[0])
        self.assertFalse(iam.evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/FILES/a")[0])
        self.assertFalse(iam.evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/temp/a")[0])
        one = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/?"}]
        self.assertTrue(iam.evaluate(one, "s3:GetObject", "arn:aws:s3:::b/x")[0])
        self.assertFalse(iam.evaluate(one, "s3:GetObject", "arn:aws:s3:::b/xy")[0])

    def test_an_explicit_deny_wins(self):
        statements = [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/public/*"},
        ]
        self.assertFalse(iam.evaluate(statements, "s3:DeleteObject", "arn:aws:s3:::b/public/x")[0])
        self.assertTrue(iam.evaluate(statements, "s3:DeleteObject", "arn:aws:s3:::b/files/x")[0])

    def test_not_action_and_not_resource(self):
        statements = [{"Effect": "Allow", "NotAction": "s3:DeleteObject",
                       "NotResource": "arn:aws:s3:::b/secret/*"}]
        self.assertTrue(iam.evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/x")[0])
        self.assertFalse(iam.evaluate(statements, "s3:DeleteObject", "arn:aws:s3:::b/x")[0])
        self.assertFalse(iam.evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/secret/x")[0])

    def test_conditions_are_evaluated_with_the_request_context(self):
        listing = [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
                    "Condition": {"StringLike": {"s3:prefix": ["thumbs/*"]}}}]
        self.assertTrue(iam.evaluate(listing, "s3:ListBucket", "arn:aws:s3:::b",
                                     {"s3:prefix": "thumbs/a/state"})[0])
        self.assertFalse(iam.evaluate(listing, "s3:ListBucket", "arn:aws:s3:::b",
                                      {"s3:prefix": "files/a"})[0])
        self.assertFalse(iam.evaluate(listing, "s3:ListBucket", "arn:aws:s3:::b", {})[0],
                         "a missing key fails a positive operator")
        tls = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]
        self.assertTrue(iam.evaluate(tls, "s3:GetObject", "x", {"aws:securetransport": "true"})[0])
        if_exists = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                      "Condition": {"StringEqualsIfExists": {"s3:x": "1"}}}]
        self.assertTrue(iam.evaluate(if_exists, "s3:GetObject", "x", {})[0])
        self.assertFalse(iam.evaluate(if_exists, "s3:GetObject", "x", {"s3:x": "2"})[0])
        keys = [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*",
                 "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["T#a"]}}}]
        self.assertTrue(iam.evaluate(keys, "dynamodb:GetItem", "x",
                                     {"dynamodb:LeadingKeys": ["T#a"]})[0])
        self.assertFalse(iam.evaluate(keys, "dynamodb:GetItem", "x",
                                      {"dynamodb:LeadingKeys": ["T#a", "T#b"]})[0])
        numbers = [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
                    "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}}]
        self.assertTrue(iam.evaluate(numbers, "s3:PutObject", "x", {"s3:max-keys": "10"})[0])
        self.assertFalse(iam.evaluate(numbers, "s3:PutObject", "x", {"s3:max-keys": "11"})[0])


class Calls(unittest.TestCase):
    def test_dynamodb_transactions_need_one_action_per_item(self):
        calls = iam.dynamodb_calls("TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}},
            {"ConditionCheck": {"TableName": "t"}}]})
        self.assertEqual([c[0] for c in calls],
                         ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"])
        self.assertEqual(iam.dynamodb_calls("Query", {"TableName": "t", "IndexName": "i"}),
                         [("dynamodb:Query", TABLE + "/index/i", {})])
        self.assertEqual(iam.dynamodb_calls("BatchGetItem", {"RequestItems": {"t": {}}}),
                         [("dynamodb:BatchGetItem", TABLE, {})])

    def test_s3_requests_need_s3s_documented_actions(self):
        def calls(method, path, query="", headers=None, body=b""):
            return [(a, r) for a, r, _ in iam.s3_calls(method, path, query, headers or {}, body)]

        obj = "arn:aws:s3:::b/files/a/1"
        self.assertEqual(calls("HEAD", "/b/files/a/1"), [("s3:GetObject", obj)])
        self.assertEqual(calls("PUT", "/b/files/a/1", "partNumber=1&uploadId=u"),
                         [("s3:PutObject", obj)])
        self.assertEqual(calls("PUT", "/b/public/a", "", {"x-amz-copy-source": "/b/files/a/1"}),
                         [("s3:PutObject", "arn:aws:s3:::b/public/a"), ("s3:GetObject", obj)])
        self.assertEqual(calls("POST", "/b/files/a/1", "uploads"), [("s3:PutObject", obj)])
        self.assertEqual(calls("DELETE", "/b/files/a/1", "uploadId=u"),
                         [("s3:AbortMultipartUpload", obj)])
        self.assertEqual(calls("GET", "/b/files/a/1", "uploadId=u"),
                         [("s3:ListMultipartUploadParts", obj)])
        self.assertEqual(calls("GET", "/b", "list-type=2&prefix=jobs%2F"),
                         [("s3:ListBucket", "arn:aws:s3:::b")])
        deleted = b"<Delete><Object><Key>x/1</Key></Object><Object><Key>y</Key></Object></Delete>"
        self.assertEqual(calls("POST", "/b", "delete", body=deleted),
                         [("s3:DeleteObject", "arn:aws:s3:::b/x/1"),
                          ("s3:DeleteObject", "arn:aws:s3:::b/y")])

    def test_eventbridge_puts_need_the_bus(self):
        self.assertEqual(iam.events_calls("PutEvents", {"Entries": [{"EventBusName": "bus"}]}),
                         [("events:PutEvents",
                           "arn:aws:events:us-east-1:123456789012:event-bus/bus", {})])

    def test_the_signers_access_key_names_the_acting_function(self):
        header = ("AWS4-HMAC-SHA256 Credential=SWtest-01abcFcreate-file/20261207/us-east-1/s3/"
                  "aws4_request, SignedHeaders=host, Signature=0")
        key = iam.access_key_of(header, "")
        self.assertEqual(iam.acting(key), ("test-01abc", "create-file"))
        query = "X-Amz-Credential=SWtest-1Fget-file%2F20261207%2Fus-east-1%2Fs3%2Faws4_request"
        self.assertEqual(iam.acting(iam.access_key_of("", query)), ("test-1", "get-file"))
        self.assertIsNone(iam.acting(iam.access_key_of("Credential=testing/x/y/s3/aws4_request", "")))


class Resolve(unittest.TestCase):
    def test_the_templates_intrinsics_resolve_against_a_world(self):
        world = iam.World("test-x", table="stowage-test-x", bus="bus", appsync_api="api1")
        bucket = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::stowage-",
                                    {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
                                    "/*"]]}
        self.assertEqual(iam.resolve(bucket, world), "arn:aws:s3:::stowage-test-x/*")
        self.assertEqual(iam.resolve({"Fn::Sub": "${FilesTable.Arn}/index/*"}, world),
                         "arn:aws:dynamodb:us-east-1:123456789012:table/stowage-test-x/index/*")
        self.assertEqual(iam.resolve({"Fn::Sub": "${RealtimeApi.ApiArn}/channelNamespace/s"}, world),
                         "arn:aws:appsync:us-east-1:123456789012:apis/api1/channelNamespace/s")
        self.assertEqual(iam.resolve({"Fn::GetAtt": ["FileEventsBus", "Arn"]}, world),
                         "arn:aws:events:us-east-1:123456789012:event-bus/bus")


class Unneeded(unittest.TestCase):
    def test_an_action_is_needed_only_if_some_call_was_allowed_by_it_alone(self):
        statements = {"f": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        ]}
        # GetObject on the bucket was allowed by both statements: neither alone is needed.
        allowed_by = {"f": [[(0, "s3:GetObject"), (1, "s3:GetObject")], [(0, "s3:PutObject")]]}
        self.assertEqual(iam.unneeded(statements, allowed_by),
                         {"f": [(0, "s3:GetObject"), (1, "s3:GetObject")]})
        allowed_by["f"].append([(0, "s3:GetObject")])
        self.assertEqual(iam.unneeded(statements, allowed_by), {"f": [(1, "s3:GetObject")]})
        self.assertEqual(iam.unneeded({"g": statements["f"]}, {}),
                         {"g": [(0, "s3:GetObject"), (0, "s3:PutObject"), (1, "s3:GetObject")]},
                         "a function no test ran needs nothing it was given")


class Template(unittest.TestCase):
    def test_every_function_gets_only_its_own_statements(self):
        statements = iam.function_statements(iam.transformed_template(), iam.original_template())
        self.assertIn("create-file", statements)
        self.assertEqual(len(statements), 44)
        for function, found in statements.items():
            for statement in found:
                actions = iam._as_list(statement.get("Action"))
                self.assertFalse(any(a.startswith("sqs:") for a in actions),
                                 f"{function}: SAM's destination statements are not the code's")

    def test_a_reading_function_updates_only_request_counters(self):
        # list-files may update items only to count requests: a record, a usage shard or
        # another tenant's anything by another partition is refused.
        enforcer = iam.Enforcer()
        enforcer.world("w").update({"table": "t"})

        def update(pk):
            return iam.dynamodb_calls("UpdateItem", {
                "TableName": "t", "Key": {"pk": {"S": pk}, "sk": {"S": "x"}}})

        self.assertEqual(enforcer.check("w", "list-files", update("L#acme")), [])
        for pk in ("T#acme", "G#acme#tag", "W#acme#rep"):
            self.assertEqual(len(enforcer.check("w", "list-files", update(pk))), 1, pk)
        # A transaction's item carries its partition too.
        put = iam.dynamodb_calls("TransactWriteItems", {"TransactItems": [
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "T#acme"}, "sk": {"S": "U~1"}}}}]})
        self.assertEqual(len(enforcer.check("w", "list-files", put)), 1)


if __name__ == "__main__":
    unittest.main()

"""Unit tests of scripts/check_deploy.py: the transformed template passes, and each gap it
looks for, made in a copy, is named. Run by scripts/test (`python -m unittest`)."""

import copy
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_deploy  # noqa: E402
import iam  # noqa: E402

TRANSFORMED = iam.transformed_template()


def problems_after(change):
    template = copy.deepcopy(TRANSFORMED)
    change(template["Resources"])
    return check_deploy.check(template)[1]


class CheckDeploy(unittest.TestCase):
    def test_the_template_as_deployed_has_no_gap(self):
        count, problems, _ = check_deploy.check(copy.deepcopy(TRANSFORMED))
        self.assertEqual(problems, [])
        self.assertEqual(count, 44)

    def test_a_function_without_its_log_group_is_named(self):
        def drop(resources):
            del resources["GetFileFunction"]["Properties"]["LoggingConfig"]
        self.assertIn("GetFileFunction: no log group of its own (LoggingConfig.LogGroup)",
                      problems_after(drop))

        def forever(resources):
            del resources["GetFileFunctionLogGroup"]["Properties"]["RetentionInDays"]
        self.assertIn("GetFileFunction: its log group keeps logs forever (no RetentionInDays)",
                      problems_after(forever))

    def test_an_asynchronous_function_without_its_destination_is_named(self):
        def drop(resources):
            for resource in resources.values():
                if (resource["Type"] == "AWS::Lambda::EventInvokeConfig"
                        and check_deploy.target_of(resource["Properties"]["FunctionName"])
                        == "MakeThumbnailsFunction"):
                    del resource["Properties"]["DestinationConfig"]
        self.assertIn(
            "MakeThumbnailsFunction: invoked asynchronously, without an on-failure destination",
            problems_after(drop))

        def stream(resources):
            for resource in resources.values():
                if (resource["Type"] == "AWS::Lambda::EventSourceMapping"
                        and check_deploy.target_of(resource["Properties"]["FunctionName"])
                        == "PublishEventsFunction"):
                    del resource["Properties"]["DestinationConfig"]
        self.assertIn("PublishEventsFunction: an event source mapping without an on-failure destination",
                      problems_after(stream))

    def test_missing_alarms_tracing_and_roles_are_named(self):
        def alarms(resources):
            del resources["ListFilesFunctionThrottlesAlarm"]
            del resources["ThumbnailsFailedQueueNotEmptyAlarm"]
        found = problems_after(alarms)
        self.assertIn("ListFilesFunction: no Throttles alarm to the AlarmTopic", found)
        self.assertIn("ThumbnailsFailedQueue: no not-empty alarm to the AlarmTopic", found)

        def untraced(resources):
            del resources["CreateFileFunction"]["Properties"]["TracingConfig"]
        self.assertIn("CreateFileFunction: tracing is not active", problems_after(untraced))

        def shared(resources):
            resources["CreateFileFunctionRole"]["Properties"]["AssumeRolePolicyDocument"][
                "Statement"][0]["Principal"]["Service"] = ["lambda.amazonaws.com", "ec2.amazonaws.com"]
        self.assertTrue(any("CreateFileFunction: its role may be assumed" in p
                            for p in problems_after(shared)))

    def test_a_dangling_reference_is_named(self):
        def dangle(resources):
            resources["GetFileFunction"]["Properties"]["LoggingConfig"]["LogGroup"] = {
                "Ref": "NoSuchLogGroup"}
        self.assertIn("a Ref or GetAtt names NoSuchLogGroup, which the template does not define",
                      problems_after(dangle))


if __name__ == "__main__":
    unittest.main()


def identity_problems(change):
    template = copy.deepcopy(TRANSFORMED)
    change(template)
    return [problem for mode, parameters in check_deploy.MODES.items()
            for problem in check_deploy.check_identity(
                mode, check_deploy.resolved(template, parameters)[0], parameters)]


class IdentityModes(unittest.TestCase):
    def test_both_modes_hold(self):
        self.assertEqual(identity_problems(lambda template: None), [])

    def test_a_client_that_lets_users_pick_their_tenant_is_named(self):
        def writable(template):
            template["Resources"]["UserPoolClient"]["Properties"]["WriteAttributes"].append("custom:tenant")
        self.assertIn("the stack's own user pool (JwtIssuer empty): a user may write their own custom:tenant",
                      identity_problems(writable))

        def default(template):
            del template["Resources"]["UserPoolClient"]["Properties"]["WriteAttributes"]
        self.assertIn("the stack's own user pool (JwtIssuer empty): a user may write their own custom:tenant",
                      identity_problems(default))

        def open_sign_up(template):
            template["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"] = {}
        self.assertIn("the stack's own user pool (JwtIssuer empty): anyone may sign up to the user pool",
                      identity_problems(open_sign_up))

    def test_an_authorizer_that_ignores_the_mode_is_named(self):
        def fixed(template):
            body = template["Resources"]["HttpApi"]["Properties"]["Body"]
            scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]
            scheme["x-amazon-apigateway-authorizer"]["jwtConfiguration"]["issuer"] = {"Ref": "JwtIssuer"}
        problems = identity_problems(fixed)
        self.assertTrue(any("the HTTP API trusts the issuer" in p for p in problems), problems)

    def test_a_reference_to_the_pool_outside_its_mode_is_named(self):
        def dangling(template):
            template["Outputs"]["Pool"] = {"Value": {"Ref": "UserPool"}}
        self.assertIn("your issuer (JwtIssuer set): a Ref or GetAtt names UserPool, which this mode "
                      "does not create", identity_problems(dangling))

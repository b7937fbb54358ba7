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
        self.assertEqual(count, 32)

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

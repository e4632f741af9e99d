"""The demo insurer's underwriting ruleset, written for Tandem (not taken from any insurer).

Risk points are collected over the applicant's attributes and summed to a score; the
application is referred when the data is incomplete or inconsistent, when the applicant
lives abroad, or when the coverage or the score exceeds what the rules may approve alone;
a clearly unacceptable risk is declined, and the rest approved.
"""

from __future__ import annotations

from typing import Any

from tandem.decisions.jdm import Column, Graph, Rule, expressions, switch, table

HOME_COUNTRY = "US"
MAX_AUTO_COVERAGE = 1_000_000  # above this an underwriter must look
REFER_SCORE = 40  # from here up, an underwriter decides
LEAN_DECLINE_SCORE = 60  # a referral from here up comes with the advice to decline
DECLINE_SCORE = 80  # from here up, the rules decline
# What the rules advise on a referral they cannot decide alone: the underwriter's judgment
# that differs from it is an override.
_LEAN = f"score >= {LEAN_DECLINE_SCORE} ? 'decline' : 'approve'"

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["applicant_name", "policy_type", "coverage_amount"],
    "properties": {
        "applicant_name": {
            "type": "string",
            "minLength": 2,
            "maxLength": 120,
            "x-personal": "name",
        },
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "country": {"type": "string", "minLength": 2, "maxLength": 2},
        "policy_type": {"type": "string", "enum": ["term_life", "whole_life", "health"]},
        "coverage_amount": {"type": "number", "minimum": 1000},
        "annual_income": {"type": "number", "minimum": 0},
        "smoker": {"type": "boolean"},
        "bmi": {"type": "number", "minimum": 10, "maximum": 80, "x-personal": "health"},
        "conditions": {"type": "integer", "minimum": 0, "x-personal": "health"},
        "claims_5y": {"type": "integer", "minimum": 0},
        "occupation_class": {"type": "integer", "minimum": 1, "maximum": 4},
    },
}

# The reasons the rules give, as underwriters and the insurer read them
# (tandem.decisions.reasons): uploaded with the version.
REASONS: dict[str, dict[str, str]] = {
    "INCOMPLETE_AGE": {
        "label": "Age missing",
        "description": "The application gives no age: an underwriter completes it.",
    },
    "INCOMPLETE_INCOME": {
        "label": "Income missing",
        "description": "The application gives no annual income: an underwriter completes it.",
    },
    "INCOMPLETE_BMI": {
        "label": "BMI missing",
        "description": "The application gives no body mass index: an underwriter completes it.",
    },
    "INCONSISTENT_COVERAGE_INCOME": {
        "label": "Coverage out of line with income",
        "description": "The coverage asked for is more than 30 times the annual income.",
    },
    "INCONSISTENT_MINOR_INCOME": {
        "label": "A minor with a large income",
        "description": "A whole-life applicant under 18 declares an income above 500,000.",
    },
    "AGE_UNDER_18": {
        "label": "Under 18",
        "description": "Applicants under 18 are not insured: declined.",
    },
    "AGE_OVER_75": {
        "label": "Over 75",
        "description": "Applicants over 75 are not insured: declined.",
    },
    "RESIDES_ABROAD": {
        "label": "Lives abroad",
        "description": f"The applicant lives outside the {HOME_COUNTRY}: an underwriter "
        "checks the country's rules.",
    },
    "COVERAGE_LIMIT": {
        "label": "Coverage above the limit",
        "description": f"Coverage above {MAX_AUTO_COVERAGE:,} needs an underwriter.",
    },
    "HIGH_RISK": {
        "label": "High risk",
        "description": f"A risk score of {DECLINE_SCORE} or more: declined.",
    },
    "SCORE_LIMIT": {
        "label": "Risk score to review",
        "description": f"A risk score from {REFER_SCORE} to {DECLINE_SCORE - 1}: an underwriter "
        f"decides (the rules advise declining from {LEAN_DECLINE_SCORE}).",
    },
    "STANDARD_RISK": {
        "label": "Standard risk",
        "description": f"Complete, consistent, and a risk score under {REFER_SCORE}: approved.",
    },
}

RESULT_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["outcome", "reason"],
    "properties": {
        "outcome": {"type": "string", "enum": ["approve", "decline", "refer"]},
        "reason": {"type": "string", "minLength": 2},
        "notes": {"type": "string"},
    },
}


def _points(conditions: dict[str, str], points: int, factor: str) -> Rule:
    order = ("age", "smoker", "bmi", "conditions", "claims_5y", "occupation_class")
    return Rule([conditions.get(name, "") for name in order], [str(points), f'"{factor}"'], factor)


def graph() -> dict[str, Any]:
    g = Graph()
    g.add("request", "inputNode", "Application")
    g.add(
        "checks",
        "decisionTableNode",
        "Data checks",
        table(
            [Column("Age", "age"), Column("Income", "annual_income"), Column("BMI", "bmi")],
            [Column("Issue", "code")],
            [
                Rule(["null", "", ""], ['"INCOMPLETE_AGE"'], "age missing"),
                Rule(["", "null", ""], ['"INCOMPLETE_INCOME"'], "income missing"),
                Rule(["", "", "null"], ['"INCOMPLETE_BMI"'], "BMI missing"),
                Rule(
                    ["", "> 0 and coverage_amount > $ * 30", ""],
                    ['"INCONSISTENT_COVERAGE_INCOME"'],
                    "coverage above 30 times the income",
                ),
                Rule(
                    ["< 18 and policy_type == 'whole_life' and annual_income > 500000", "", ""],
                    ['"INCONSISTENT_MINOR_INCOME"'],
                    "a minor with a large income",
                ),
            ],
            hit_policy="collect",
            output_path="issues",
        ),
    )
    g.add(
        "risk",
        "decisionTableNode",
        "Risk points",
        table(
            [
                Column("Age", "age"),
                Column("Smoker", "smoker"),
                Column("BMI", "bmi"),
                Column("Conditions", "conditions"),
                Column("Claims (5 years)", "claims_5y"),
                Column("Occupation class", "occupation_class"),
            ],
            [Column("Points", "points"), Column("Factor", "factor")],
            [
                _points({"age": "[45..59]"}, 10, "AGE_45_59"),
                _points({"age": "[60..69]"}, 20, "AGE_60_69"),
                _points({"age": ">= 70"}, 35, "AGE_70_PLUS"),
                _points({"smoker": "true"}, 20, "SMOKER"),
                _points({"bmi": "[30..34.9]"}, 10, "BMI_30_35"),
                _points({"bmi": ">= 35"}, 25, "BMI_35_PLUS"),
                _points({"bmi": "< 18.5"}, 10, "BMI_UNDER_18_5"),
                _points({"conditions": "1"}, 15, "ONE_CONDITION"),
                _points({"conditions": ">= 2"}, 35, "CONDITIONS_2_PLUS"),
                _points({"claims_5y": "[1..2]"}, 5, "CLAIMS_1_2"),
                _points({"claims_5y": ">= 3"}, 20, "CLAIMS_3_PLUS"),
                _points({"occupation_class": "3"}, 10, "OCCUPATION_3"),
                _points({"occupation_class": "4"}, 25, "OCCUPATION_4"),
            ],
            hit_policy="collect",
            output_path="risk",
        ),
    )
    g.add(
        "score",
        "expressionNode",
        "Score",
        expressions(
            [
                ("score", "sum(map(risk, #.points))"),
                ("issue_codes", "map(issues, #.code)"),
                ("abroad", f"country != null and country != '{HOME_COUNTRY}'"),
            ]
        ),
    )
    g.add(
        "route",
        "switchNode",
        "Complete and consistent?",
        switch([("bad-data", "len(issue_codes) > 0"), ("good-data", "")]),
    )
    g.add(
        "refer-data",
        "expressionNode",
        "Refer: data",
        expressions(
            [("outcome", "'refer'"), ("reasons", "issue_codes"), ("score", "score")],
            pass_through=False,
        ),
    )
    g.add(
        "outcome",
        "decisionTableNode",
        "Outcome",
        table(
            [
                Column("Age", "age"),
                Column("Abroad", "abroad"),
                Column("Coverage", "coverage_amount"),
                Column("Score", "score"),
            ],
            [
                Column("Outcome", "outcome"),
                Column("Reasons", "reasons"),
                Column("Recommendation", "recommendation"),
                Column("Score", "score"),
            ],
            [
                Rule(
                    ["< 18", "", "", ""],
                    ["'decline'", "['AGE_UNDER_18']", "null", "score"],
                    "under 18",
                ),
                Rule(
                    ["> 75", "", "", ""],
                    ["'decline'", "['AGE_OVER_75']", "null", "score"],
                    "over 75",
                ),
                Rule(
                    ["", "true", "", ""],
                    ["'refer'", "['RESIDES_ABROAD']", _LEAN, "score"],
                    "lives abroad",
                ),
                Rule(
                    ["", "", f"> {MAX_AUTO_COVERAGE}", ""],
                    ["'refer'", "['COVERAGE_LIMIT']", _LEAN, "score"],
                    "coverage above the limit",
                ),
                Rule(
                    ["", "", "", f">= {DECLINE_SCORE}"],
                    ["'decline'", "['HIGH_RISK']", "null", "score"],
                    f"score {DECLINE_SCORE} or more",
                ),
                Rule(
                    ["", "", "", f">= {REFER_SCORE}"],
                    ["'refer'", "['SCORE_LIMIT']", _LEAN, "score"],
                    f"score {REFER_SCORE} or more",
                ),
                Rule(
                    ["", "", "", ""],
                    ["'approve'", "['STANDARD_RISK']", "null", "score"],
                    "anything else",
                ),
            ],
            hit_policy="first",
        ),
    )
    g.add("response", "outputNode", "Decision")
    g.chain("request", "checks", "risk", "score", "route")
    g.link("route", "refer-data", "bad-data")
    g.link("route", "outcome", "good-data")
    g.link("refer-data", "response")
    g.link("outcome", "response")
    return g.as_json()


def tests() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, input, expected part of the result): must all pass before publishing."""
    base = {
        "applicant_name": "Test Applicant",
        "age": 35,
        "country": "US",
        "policy_type": "term_life",
        "coverage_amount": 250_000,
        "annual_income": 60_000,
        "smoker": False,
        "bmi": 24.0,
        "conditions": 0,
        "claims_5y": 0,
        "occupation_class": 1,
    }
    return [
        ("clean applicant approves", base, {"outcome": "approve", "reasons": ["STANDARD_RISK"]}),
        ("missing age refers", {**base, "age": None}, {"outcome": "refer"}),
        (
            "abroad refers, advising approval",
            {**base, "country": "GB"},
            {"reasons": ["RESIDES_ABROAD"], "recommendation": "approve"},
        ),
        (
            "coverage limit refers",
            {**base, "coverage_amount": 2_000_000, "annual_income": 200_000},
            {"reasons": ["COVERAGE_LIMIT"]},
        ),
        (
            "high risk declines",
            {**base, "age": 62, "smoker": True, "bmi": 36.0, "conditions": 2},
            {"outcome": "decline", "reasons": ["HIGH_RISK"]},
        ),
        ("minor declines", {**base, "age": 16}, {"outcome": "decline"}),
        (
            "inconsistent income refers",
            {**base, "coverage_amount": 900_000, "annual_income": 10_000},
            {"outcome": "refer", "reasons": ["INCONSISTENT_COVERAGE_INCOME"]},
        ),
    ]

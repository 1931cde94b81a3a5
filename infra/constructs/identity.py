"""IdentityConstruct: the Cognito user pool users sign in to, and the app client the SPA uses."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.stage import Stage

# Cognito puts this scope in every access token from InitiateAuth and in none of its ID tokens:
# requiring it on API routes is how the HTTP API's JWT authorizer refuses ID tokens.
ACCESS_TOKEN_SCOPE = "aws.cognito.signin.user.admin"  # noqa: S105 (a scope name, not a secret)


class IdentityConstruct(Construct):
    """Email sign-in, a real password policy, TOTP MFA available (enforced per account by the app)."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: Stage) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"fiscalmix-{stage.name}",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True),
                fullname=cognito.StandardAttribute(required=False, mutable=True),
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=stage.production,
            removal_policy=stage.removal_policy,
        )
        self.client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=f"fiscalmix-{stage.name}-web",
            # SRP for the SPA; USER_PASSWORD for integrators' scripts and the local demo.
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
        )
        Validations.of(self.user_pool).acknowledge(
            Acknowledgment(
                id="AwsSolutions-COG2",
                reason="MFA is optional at the pool so each account can enforce TOTP for its own "
                "users (the API refuses sign-ins without it where the account requires it).",
            ),
            Acknowledgment(
                id="AwsSolutions-COG3",
                reason="Threat protection (advanced security) is a paid Plus-tier feature; it is "
                "switched on per production deployment by the operator, not in every stage.",
            ),
            Acknowledgment(
                id="AwsSolutions-COG8",
                reason="The Plus feature plan is the operator's choice per production deployment "
                "(with threat protection, above); development stages run on the Essentials plan.",
            ),
        )

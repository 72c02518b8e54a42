"""Users: one service behind the admin pages and `surveys users`; least privilege by default;
sessions end on logout, deactivation and password change."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from surveys import db
from surveys.models import Role
from surveys.services import rounds as ops
from surveys.services import users
from surveys.services.actor import Actor, Refused
from tests.conftest import PASSWORD, count_rows, csrf, login, table_rows


def user_row(app, email):
    with app.app_context():
        return (
            db.session()
            .execute(
                text("SELECT id, name, role, active FROM app_user WHERE email = :e"), {"e": email}
            )
            .one()
        )


def insatser_of(app, email):
    with app.app_context():
        return sorted(
            db.session()
            .execute(
                text(
                    "SELECT i.name FROM user_intervention ui JOIN intervention i "
                    "ON i.id = ui.intervention_id JOIN app_user u ON u.id = ui.user_id "
                    "WHERE u.email = :e"
                ),
                {"e": email},
            )
            .scalars()
        )


def make_insats(app, name):
    with app.app_context():
        intervention_id = ops.intervention_by_name(db.session(), name, create=True).id
        db.session().commit()
        return intervention_id


def test_new_user_defaults_to_reader_and_address_is_validated(app, admin_client):
    form = admin_client.get("/admin").text
    assert re.search(r'<option selected value="läsare">Läsare</option>', form)
    created = admin_client.post(
        "/admin/anvandare",
        data={"csrf_token": csrf(admin_client), "email": "Ny@Forbund.se", "password": PASSWORD},
        follow_redirects=True,
    )
    assert "ny@forbund.se är skapad med rollen läsare" in created.text
    assert user_row(app, "ny@forbund.se")[2] == "läsare"
    bad = admin_client.post(
        "/admin/anvandare",
        data={"csrf_token": csrf(admin_client), "email": "ny@@x", "password": "kort"},
        follow_redirects=True,
    )
    assert "Ange en giltig e-postadress" in bad.text
    assert "minst 10 tecken" in bad.text
    assert count_rows(app, "app_user") == 2


def test_admin_edits_name_role_and_insatser(app, admin_client, make_user):
    email = make_user("läsare", email="l@example.invalid")
    steget = make_insats(app, "Steget")
    user_id = user_row(app, email)[0]
    url = f"/admin/anvandare/{user_id}"
    refused = admin_client.post(
        url, data={"csrf_token": csrf(admin_client), "name": "Lena", "role": "personal"}
    )
    assert "Personal måste knytas till minst en insats" in refused.text
    assert user_row(app, email)[2] == "läsare"
    admin_client.post(
        url,
        data={
            "csrf_token": csrf(admin_client),
            "name": "Lena Lund",
            "role": "personal",
            "insatser": [steget],
        },
    )
    assert tuple(user_row(app, email)[1:3]) == ("Lena Lund", "personal")
    assert insatser_of(app, email) == ["Steget"]
    page = admin_client.get("/admin").text
    assert ("l@example.invalid", "Lena Lund", "Personal", "Steget", "Aktiv") in table_rows(page)
    log = table_rows(admin_client.get("/admin/logg").text)
    assert any(r[2] == "Ändrade en användare" and r[3] == email + ": Personal, Steget" for r in log)


def test_a_users_insatser_are_listed_by_name_on_the_page_and_in_the_cli(
    app, admin_client, make_user, runner
):
    """The links are stored in the order they were chosen (and their ids are random): the
    users table and `surveys users list` name the insatser in name order all the same."""
    make_user("personal", email="p@example.invalid", insatser=["Steget", "Alfa", "Mitten"])
    page = admin_client.get("/admin").text
    assert ("p@example.invalid", "", "Personal", "Alfa, Mitten, Steget", "Aktiv") in table_rows(
        page
    )
    listing = runner.invoke(args=["users", "list"]).output
    assert re.search(r"p@example.invalid\s+Personal\s+aktiv\s+Alfa, Mitten, Steget\n", listing)


def test_the_last_admin_keeps_the_role(app, client, make_user):
    email = make_user("administratör")
    login(client, email)
    user_id = user_row(app, email)[0]
    page = client.post(
        f"/admin/anvandare/{user_id}",
        data={"csrf_token": csrf(client), "name": "", "role": "läsare"},
    )
    assert "minst en aktiv administratör" in page.text
    assert user_row(app, email)[2] == "administratör"


def test_a_cookie_copied_before_logout_no_longer_opens_admin(app, client, make_user):
    login(client, make_user("administratör"))
    assert "Användare" in client.get("/admin").text
    copied = client.get_cookie("session").value
    client.post("/logga-ut", data={"csrf_token": csrf(client)})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/admin")
    assert response.status_code == 302
    assert "/logga-in" in response.headers["Location"]


def test_deactivation_ends_sessions_and_reactivation_allows_sign_in(app, admin_client, make_user):
    email = make_user("personal", email="p@example.invalid", insatser=["Steget"])
    staff = app.test_client()
    login(staff, email)
    assert staff.get("/personal").status_code == 200
    user_id = user_row(app, email)[0]
    page = admin_client.post(
        f"/admin/anvandare/{user_id}/inaktivera",
        data={"csrf_token": csrf(admin_client)},
        follow_redirects=True,
    )
    assert 'id="status">Inaktiverad' in page.text
    assert user_row(app, email)[3] in (False, 0)
    assert "/logga-in" in staff.get("/personal").headers["Location"]
    assert "Fel e-postadress eller lösenord" in login(staff, email).text
    admin_client.post(
        f"/admin/anvandare/{user_id}/aktivera", data={"csrf_token": csrf(admin_client)}
    )
    assert login(staff, email).status_code == 302
    assert "Insatser och enkäter" in staff.get("/personal").text


def test_password_reset_by_admin_ends_sessions(app, admin_client, make_user):
    email = make_user("läsare", email="r@example.invalid")
    reader = app.test_client()
    login(reader, email)
    user_id = user_row(app, email)[0]
    short = admin_client.post(
        f"/admin/anvandare/{user_id}/losenord",
        data={"csrf_token": csrf(admin_client), "password": "kort"},
        follow_redirects=True,
    )
    assert "minst 10 tecken" in short.text
    admin_client.post(
        f"/admin/anvandare/{user_id}/losenord",
        data={"csrf_token": csrf(admin_client), "password": "ett-nytt-langt-losenord"},
    )
    assert "/logga-in" in reader.get("/rapport").headers["Location"]
    assert "Fel e-postadress" in login(reader, email).text
    assert login(reader, email, "ett-nytt-langt-losenord").status_code == 302


def test_insats_can_be_renamed_and_rounds_follow(app, admin_client, make_round):
    r = make_round("deltagare_avslut", insats="Steget")
    intervention_id = r.intervention_id
    page = admin_client.post(
        f"/admin/insatser/{intervention_id}",
        data={"csrf_token": csrf(admin_client), "name": "Steget vidare"},
        follow_redirects=True,
    )
    assert "Insatsen heter nu Steget vidare" in page.text
    assert "Steget vidare" in admin_client.get(f"/personal/omgang/{r.id}").text
    make_insats(app, "Annan")
    taken = admin_client.post(
        f"/admin/insatser/{intervention_id}",
        data={"csrf_token": csrf(admin_client), "name": "Annan"},
        follow_redirects=True,
    )
    assert "Det finns redan en insats med det namnet" in taken.text
    with app.app_context():
        names = db.session().execute(text("SELECT name FROM intervention ORDER BY name")).scalars()
        assert list(names) == ["Annan", "Steget vidare"]


def test_forbund_name_is_a_setting(app, admin_client):
    admin_client.post(
        "/admin/forbund",
        data={"csrf_token": csrf(admin_client), "forbund_name": "Samordningsförbundet Väst"},
    )
    with app.app_context():
        value = (
            db.session()
            .execute(text("SELECT value FROM setting WHERE key = 'forbund_name'"))
            .scalar_one()
        )
    assert value == "Samordningsförbundet Väst"
    assert 'value="Samordningsförbundet Väst"' in admin_client.get("/admin").text


# --- the same service from the CLI --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "swedish"),
    [
        ("E" * 201, "Namnet är för långt (högst 200 tecken)."),
        ("Eva \u202enimda", "Namnet innehåller osynliga tecken eller styrtecken"),
        ("Eva\x1b[31m", "Namnet innehåller osynliga tecken eller styrtecken"),
    ],
    ids=["too-long", "bidi-override", "escape"],
)
def test_a_users_name_is_held_to_the_insats_names_rules(app, runner, name, swedish):
    """Cut to 200 characters without a word, or shown the wrong way round in the list
    by a bidirectional override, before: refused on creation and on a change."""
    create = ["users", "create", "--email", "eva@forbund.se", "--password", PASSWORD]
    created = runner.invoke(args=[*create, "--name", name])
    assert created.exit_code == 1
    assert swedish in created.output
    assert count_rows(app, "app_user") == 0
    ok = runner.invoke(args=[*create, "--name", "Eva"])
    assert ok.exit_code == 0, ok.output
    edited = runner.invoke(args=["users", "edit", "eva@forbund.se", "--name", name])
    assert edited.exit_code == 1
    assert swedish in edited.output
    assert user_row(app, "eva@forbund.se")[1] == "Eva"


def test_cli_user_lifecycle(app, runner, make_round):
    make_round("deltagare_avslut", insats="Steget")
    created = runner.invoke(
        args=["users", "create", "--email", "Eva@Forbund.se", "--password", PASSWORD]
    )
    assert created.exit_code == 0, created.output
    assert user_row(app, "eva@forbund.se")[2] == "läsare"  # least privilege
    role = runner.invoke(args=["users", "set-role", "eva@forbund.se", "personal"])
    assert role.exit_code == 1
    assert "Fel: Personal måste knytas till minst en insats" in role.output
    ok = runner.invoke(
        args=["users", "set-role", "eva@forbund.se", "personal", "--insats", "Steget"]
    )
    assert ok.exit_code == 0, ok.output
    edit = runner.invoke(args=["users", "edit", "eva@forbund.se", "--name", "Eva Ek"])
    assert edit.exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert re.search(r"eva@forbund.se\s+Personal\s+aktiv\s+Steget", listing)
    assert tuple(user_row(app, "eva@forbund.se")[1:3]) == ("Eva Ek", "personal")
    assert runner.invoke(args=["users", "deactivate", "eva@forbund.se"]).exit_code == 0
    assert "inaktiverad" in runner.invoke(args=["users", "list"]).output
    short = runner.invoke(args=["users", "set-password", "eva@forbund.se", "--password", "x"])
    assert short.exit_code == 1
    assert "minst 10 tecken" in short.output
    assert "Traceback" not in short.output
    new = runner.invoke(
        args=["users", "set-password", "eva@forbund.se", "--password", "ett-annat-losenord"]
    )
    assert new.exit_code == 0
    missing = runner.invoke(args=["users", "deactivate", "ingen@forbund.se"])
    assert missing.exit_code == 1
    assert "Fel: Det finns ingen användare" in missing.output
    unknown = runner.invoke(
        args=["users", "create", "--email", "a@b.se", "--password", PASSWORD, "--insats", "X"]
    )
    assert unknown.exit_code == 1
    assert "Okänd insats: X" in unknown.output
    with app.app_context():
        actions = (
            db.session()
            .execute(text("SELECT action FROM audit_entry WHERE user_email = 'kommandoraden'"))
            .scalars()
            .all()
        )
    assert sorted(actions) == sorted(
        ["användare.skapa", "användare.ändra", "användare.ändra", "användare.inaktivera",
         "användare.lösenord"]
    )  # fmt: skip


def _audit_rows(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session().execute(text("SELECT action, user_email, detail FROM audit_entry"))
        return sorted(tuple(row) for row in rows)


def test_sign_in_and_out_are_audited_by_the_users_service(app, client, make_user):
    """`inloggning` and `utloggning` by the user, written by users.signed_in/sign_out
    (the routes only call them); a wrong password writes nothing."""
    email = make_user("personal", email="p@example.invalid", insatser=["Steget"])
    assert login(client, email, "fel-losenord-helt").status_code == 200
    assert _audit_rows(app) == []
    assert login(client, email).status_code == 302
    assert _audit_rows(app) == [("inloggning", email, "")]
    client.post("/logga-ut", data={"csrf_token": csrf(client)})
    assert _audit_rows(app) == [("inloggning", email, ""), ("utloggning", email, "")]
    with app.app_context():
        assert users.session_version(db.session(), user_row(app, email)[0]) == 1


def test_sign_out_refuses_another_users_account_and_changes_nothing(app, make_user):
    mine = make_user("personal", email="p@example.invalid", insatser=["Steget"])
    other = make_user("administratör", email="a@example.invalid")
    other_id = user_row(app, other)[0]
    actor = Actor(email=mine, role=Role.staff.value)
    with app.app_context():
        session = db.session()
        with pytest.raises(Refused, match="bara logga ut dig själv"):
            users.sign_out(session, actor, other_id)
        session.commit()
        assert users.session_version(session, other_id) == 0
    assert _audit_rows(app) == []


def test_the_test_user_factory_creates_users_by_the_users_services_rules(app, make_user):
    """tests/factories.py ``user`` wrote the rows itself: a staff user without an insats
    or an address in capitals was stored as no page or command could store it."""
    from tests import factories

    with app.app_context():
        session = db.session()
        with pytest.raises(users.UserError, match="minst en insats"):
            factories.user(session, "personal", email="utan@example.invalid")
        with pytest.raises(users.UserError, match="minst 10 tecken"):
            factories.user(session, "läsare", email="kort@example.invalid", password="kort")
        session.rollback()
    email = make_user("personal", email="Stor@Example.INVALID", insatser=["Steget"])
    assert email == "stor@example.invalid"  # normalised as the service does
    assert user_row(app, email)[2:] == ("personal", True)
    assert insatser_of(app, email) == ["Steget"]
    assert login(app.test_client(), email).status_code == 302
    assert count_rows(app, "audit_entry") == 1  # the sign-in: the factory audits nothing

"""Password hashes (scrypt) and the users file."""

from __future__ import annotations

import pytest

from webapp.auth.passwords import UserSpec, hash_password, is_hash, parse_users, verify_password


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse")
    assert is_hash(stored) and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")  # salted


def test_the_hash_is_memory_hard_scrypt_with_its_cost_recorded() -> None:
    name, n, r, p, _salt, _key = hash_password("x").split("$")
    assert (name, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)  # 16 MiB per guess


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3", "scrypt$x$8$1$AA==$AA==", "md5$abc"])
def test_a_malformed_hash_matches_nothing(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_a_huge_password_is_refused_without_hashing_it() -> None:
    assert not verify_password("x" * 100_000, hash_password("x"))


def test_the_users_file_reads_names_passwords_and_admins() -> None:
    stored = hash_password("hashed-one")
    text = f"# team\nalice:wonderland:admin\n\n bob : s3cret:with:colons\ncarol:{stored}\n"
    assert parse_users(text) == [
        UserSpec("alice", "wonderland", True),
        UserSpec("bob", " s3cret:with:colons", False),
        UserSpec("carol", stored, False),
    ]
    assert parse_users(text)[2].password_hash == stored  # a hash is kept as it is


@pytest.mark.parametrize("line", ["nobody", ":password", "name:", "name::admin"])
def test_a_users_file_line_that_cannot_be_read_names_its_number(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_users(f"ok:fine\n{line}\n")

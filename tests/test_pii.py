"""Masking, the GB 11643 check digit and the ID-number vault."""

import pytest

from dashboard.domain.pii import (
    PiiVault,
    id_check_char,
    is_valid_id_number,
    is_valid_mobile,
    mask_address,
    mask_free_text,
    mask_id_number,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),  # the standard's own example
        ("110105194912310021", False),  # wrong check character
        ("11010519491231002x", True),  # lower-case x is accepted
        ("1101051949123100", False),  # too short
        ("11010519491231002Y", False),
    ],
)
def test_gb11643_check_digit(number, valid):
    assert is_valid_id_number(number) is valid


def test_check_char_matches_the_standard_example():
    assert id_check_char("11010519491231002") == "X"


def test_masks():
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "李*"
    assert mask_name("  ") == "" and mask_name(None) == ""
    assert mask_phone("13812341234") == "138****1234"
    assert mask_id_number("11010519491231002X") == "*" * 18
    assert mask_address("成都市武侯区簇桥街道锦湖花园5栋") == "成都市武侯区***"
    assert mask_name(None) == mask_phone(None) == ""


def test_free_text_masks_numbers_residents_typed():
    text = "联系人电话13812341234，身份证11010519491231002X，门牌12号"
    masked = mask_free_text(text)
    assert "13812341234" not in masked and "11010519491231002X" not in masked
    assert "138****1234" in masked and "门牌12号" in masked


def test_mobile_validation():
    assert is_valid_mobile("13812341234")
    assert not is_valid_mobile("12812341234")
    assert not is_valid_mobile("1381234123")


def test_vault_hashes_for_matching_and_encrypts_reversibly():
    vault = PiiVault("secret")
    number = "11010519491231002X"
    assert vault.hash(number) == vault.hash(number.lower()) != PiiVault("other").hash(number)
    blob = vault.encrypt(number)
    assert number.encode() not in blob
    assert vault.decrypt(blob) == number
    assert vault.encrypt(number) == blob  # deterministic, so a re-import compares equal


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("请回电13812341234", "13812341234"),
        ("电话 138 1234 5678", "1234 5678"),
        ("电话138-1234-5678", "1234-5678"),
        ("+8613812341234", "13812341234"),
        ("１３８１２３４１２３４", "1234１２３４"),
        ("旧身份证110105491231002", "110105491231002"),
        ("座机028-85551234", "85551234"),
    ],
)
def test_free_text_masks_numbers_however_they_are_written(text, hidden):
    assert hidden not in mask_free_text(text)
    assert "*" in mask_free_text(text)


def test_text_without_numbers_is_left_alone():
    assert mask_free_text("门牌12号，共3栋") == "门牌12号，共3栋"


def test_vault_encrypts_any_text_with_a_fresh_nonce():
    vault = PiiVault("secret")
    stored = vault.encrypt_text('{"姓名": "张三丰"}')
    assert "张三丰" not in stored and stored != vault.encrypt_text('{"姓名": "张三丰"}')
    assert vault.decrypt_text(stored) == '{"姓名": "张三丰"}'
    assert vault.digest("x") == vault.digest("x") != PiiVault("other").digest("x")

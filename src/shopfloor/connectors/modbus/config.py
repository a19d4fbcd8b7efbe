"""Settings of one Modbus TCP device: where it is, how to poll it, and its register map as data.

A register map is a list of :class:`Register` entries (TOML ``[[modbus.register]]`` tables):
address, type (int16/uint16/int32/uint32/float32/float64), scale and offset
(``value = raw * scale + offset``), word order (``big`` = high word first) and byte order
within a word, engineering unit, and which asset/tag the value is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RegType = Literal["int16", "uint16", "int32", "uint32", "float32", "float64"]
WIDTH: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "float64": 4}


class Register(BaseModel):
    """One tag in a device's register map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset: str = Field(description="Asset path the value belongs to.")
    tag: str = Field(description="Tag name within the asset.")
    address: int = Field(ge=0, le=65535, description="First register (0-based protocol address).")
    type: RegType = Field("uint16", description="Register encoding.")
    table: Literal["holding", "input"] = Field("holding", description="FC 3 (holding) or FC 4 (input).")
    scale: float = Field(1.0, description="value = raw * scale + offset.")
    offset: float = Field(0.0, description="value = raw * scale + offset.")
    word_order: Literal["big", "little"] = Field("big", description="big: high word first (ABCD).")
    byte_order: Literal["big", "little"] = Field("big", description="Byte order within one register.")
    unit: str = Field("", description="Engineering unit of the scaled value.")
    writable: bool = Field(False, description="Setpoint: may be written by commands (FC 6/16).")

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def key(self) -> tuple[str, str]:
        return (self.asset, self.tag)


class ModbusDevice(BaseModel):
    """One Modbus TCP device (a PLC or a unit behind a gateway), polled by its own coordinator."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Device name, used in health and logs.")
    host: str = Field("127.0.0.1", description="Device address.")
    port: int = Field(502, ge=1, le=65535, description="Modbus TCP port.")
    unit_id: int = Field(1, ge=0, le=255, description="Unit (slave/device) id.")
    poll_interval_s: float = Field(0.1, gt=0, description="Time between polls of all blocks.")
    timeout_s: float = Field(1.0, gt=0, description="Per-request timeout.")
    max_block: int = Field(120, ge=1, le=125, description="Most registers read in one request.")
    max_gap: int = Field(8, ge=0, description="Unused registers a block may span to join two points.")
    backoff_min_s: float = Field(0.5, gt=0, description="First retry delay after a failure.")
    backoff_max_s: float = Field(10.0, gt=0, description="Longest retry delay (doubling).")
    registers: list[Register] = Field(default_factory=list, description="The register map.")

    @model_validator(mode="after")
    def _check(self) -> ModbusDevice:
        seen: set[tuple[str, str]] = set()
        for r in self.registers:
            if r.key in seen:
                raise ValueError(f"device {self.name!r}: tag {r.asset}/{r.tag} is mapped twice")
            seen.add(r.key)
            if r.address + r.width > 65536:
                raise ValueError(f"device {self.name!r}: {r.asset}/{r.tag} runs past register 65535")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError(f"device {self.name!r}: backoff_max_s is below backoff_min_s")
        return self

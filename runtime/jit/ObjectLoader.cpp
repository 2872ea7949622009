//===- ObjectLoader.cpp - Kernel objects loaded without LLVM --------------===//
//
// One pass per step, each small: read the header and the section table,
// place every allocatable section in one of three regions (code, constants,
// data; each page-aligned, so that each gets its own protection), reserve a
// GOT slot for each symbol a GOT load names and a call stub for each
// external function a call names, map, copy, find every symbol's address,
// apply the relocations, write the slots and stubs, protect.
//
//===----------------------------------------------------------------------===//
#include "ObjectLoader.h"

#include "kiln/ir/Error.h"

#include <dlfcn.h>
#include <elf.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

namespace kiln::runtime::jit {

namespace {

[[noreturn]] void reject(const std::string &what) {
  throw Error(ErrorKind::Format, "kernel object: " + what);
}

/// Reads of the object's bytes that never go past its end.
class Bytes {
public:
  explicit Bytes(std::string_view bytes) : bytes_(bytes) {}

  template <class T> T read(uint64_t offset, std::string_view what) const {
    T value;
    std::memcpy(&value, range(offset, sizeof(T), what).data(), sizeof(T));
    return value;
  }
  std::string_view range(uint64_t offset, uint64_t size, std::string_view what) const {
    if (offset > bytes_.size() || size > bytes_.size() - offset)
      reject(fmt::format("{} (bytes {} to {}) lies past the end of the {}-byte object", what,
                         offset, offset + size, bytes_.size()));
    return bytes_.substr(offset, size);
  }

private:
  std::string_view bytes_;
};

/// Where an allocatable section goes, by the protection it needs.
enum class Region { Code, Constants, Data };
constexpr size_t kRegions = 3;

/// Kernels' sections are kilobytes; a larger one is damage, and would
/// overflow the layout's arithmetic.
constexpr uint64_t kMaxSectionBytes = uint64_t(1) << 30;

/// A call stub: `jmp *slot(%rip)`, padded with int3.
constexpr size_t kStubBytes = 8;
constexpr std::array<uint8_t, 2> kJmpIndirect = {0xff, 0x25};

size_t pageSize() {
  static const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  return page;
}

uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

bool isGotLoad(uint32_t type) {
  return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX || type == R_X86_64_REX_GOTPCRELX;
}

} // namespace

/// Links one object into a LoadedObject; see the file comment for the order.
class ObjectLinker {
public:
  ObjectLinker(std::string_view elf, const SymbolResolver &resolve)
      : bytes_(elf), resolve_(resolve), loaded_(new LoadedObject()) {}

  std::unique_ptr<LoadedObject> link() {
    readHeader();
    readSections();
    readSymbols();
    reserveSlotsAndStubs();
    layOut();
    map();
    copySections();
    findAddresses();
    relocate();
    writeSlotsAndStubs();
    protect();
    return std::move(loaded_);
  }

private:
  struct Section {
    Elf64_Shdr header;
    std::optional<Region> region; ///< unset: not loaded
    uint64_t offset = 0;          ///< in its region
  };
  struct Symbol {
    Elf64_Sym entry;
    std::string name;
    uint64_t address = 0;
    bool hasAddress = false;
    std::optional<size_t> slot, stub;
  };

  void readHeader() {
    auto header = bytes_.read<Elf64_Ehdr>(0, "the ELF header");
    if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
      reject("not an ELF file");
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
      reject("not a 64-bit little-endian ELF file");
    if (header.e_type != ET_REL || header.e_machine != EM_X86_64)
      reject(fmt::format("not an x86-64 relocatable object (type {}, machine {})", header.e_type,
                         header.e_machine));
    if (header.e_shentsize != sizeof(Elf64_Shdr))
      reject(fmt::format("section headers of {} bytes", header.e_shentsize));
    header_ = header;
  }

  void readSections() {
    for (uint16_t i = 0; i < header_.e_shnum; ++i) {
      Section s{bytes_.read<Elf64_Shdr>(header_.e_shoff + uint64_t(i) * sizeof(Elf64_Shdr),
                                        "a section header")};
      if (s.header.sh_type != SHT_NOBITS)
        bytes_.range(s.header.sh_offset, s.header.sh_size, "a section's contents");
      s.region = regionOf(s.header, i);
      sections_.push_back(s);
    }
  }

  std::optional<Region> regionOf(const Elf64_Shdr &h, uint16_t index) const {
    if (!(h.sh_flags & SHF_ALLOC))
      return std::nullopt;
    if (h.sh_flags & SHF_TLS)
      reject(fmt::format("section {} holds thread-local data", index));
    // .eh_frame is SHT_X86_64_UNWIND; kernels never unwind, so it is data.
    if (h.sh_type != SHT_PROGBITS && h.sh_type != SHT_NOBITS && h.sh_type != SHT_X86_64_UNWIND)
      reject(fmt::format("allocatable section {} has type {} (initialisers are not run)", index,
                         h.sh_type));
    if (h.sh_size > kMaxSectionBytes)
      reject(fmt::format("section {} has {} bytes", index, h.sh_size));
    uint64_t align = std::max<uint64_t>(h.sh_addralign, 1);
    if ((align & (align - 1)) != 0 || align > pageSize())
      reject(fmt::format("section {} asks for an alignment of {}", index, h.sh_addralign));
    if (h.sh_flags & SHF_EXECINSTR)
      return Region::Code;
    return h.sh_flags & SHF_WRITE ? Region::Data : Region::Constants;
  }

  void readSymbols() {
    for (size_t i = 0; i < sections_.size(); ++i) {
      const Elf64_Shdr &h = sections_[i].header;
      if (h.sh_type != SHT_SYMTAB)
        continue;
      if (symtab_)
        reject("more than one symbol table");
      symtab_ = i;
      if (h.sh_entsize != sizeof(Elf64_Sym))
        reject(fmt::format("symbol table entries of {} bytes", h.sh_entsize));
      if (h.sh_link >= sections_.size() || sections_[h.sh_link].header.sh_type != SHT_STRTAB)
        reject("the symbol table has no string table");
      const Elf64_Shdr &strings = sections_[h.sh_link].header;
      std::string_view names = bytes_.range(strings.sh_offset, strings.sh_size, "symbol names");
      for (uint64_t k = 0; k < h.sh_size / sizeof(Elf64_Sym); ++k) {
        Symbol sym{bytes_.read<Elf64_Sym>(h.sh_offset + k * sizeof(Elf64_Sym), "a symbol")};
        if (sym.entry.st_name >= names.size() && sym.entry.st_name != 0)
          reject(fmt::format("symbol {} has its name past the string table", k));
        std::string_view rest = names.substr(std::min<size_t>(sym.entry.st_name, names.size()));
        size_t end = rest.find('\0');
        if (end == std::string_view::npos)
          reject(fmt::format("symbol {} has an unterminated name", k));
        sym.name = std::string(rest.substr(0, end));
        symbols_.push_back(std::move(sym));
      }
    }
  }

  /// The relocation sections that apply to a loaded section, checked.
  std::vector<const Elf64_Shdr *> relocationSections() const {
    std::vector<const Elf64_Shdr *> out;
    for (const Section &s : sections_) {
      const Elf64_Shdr &h = s.header;
      if (h.sh_type == SHT_REL)
        reject("REL relocations (x86-64 objects use RELA)");
      if (h.sh_type != SHT_RELA)
        continue;
      if (h.sh_info >= sections_.size())
        reject(fmt::format("relocations for section {}, which does not exist", h.sh_info));
      if (!sections_[h.sh_info].region)
        continue; // e.g. debug information: never loaded
      if (h.sh_entsize != sizeof(Elf64_Rela))
        reject(fmt::format("relocation entries of {} bytes", h.sh_entsize));
      if (!symtab_ || h.sh_link != *symtab_)
        reject("relocations without the symbol table");
      out.push_back(&h);
    }
    return out;
  }

  template <class Fn> void forEachRelocation(Fn fn) const {
    for (const Elf64_Shdr *h : relocationSections())
      for (uint64_t k = 0; k < h->sh_size / sizeof(Elf64_Rela); ++k)
        fn(sections_[h->sh_info],
           bytes_.read<Elf64_Rela>(h->sh_offset + k * sizeof(Elf64_Rela), "a relocation"));
  }

  Symbol &symbolOf(const Elf64_Rela &r) {
    uint64_t index = ELF64_R_SYM(r.r_info);
    if (index >= symbols_.size())
      reject(fmt::format("a relocation names symbol {} of {}", index, symbols_.size()));
    return symbols_[index];
  }

  static bool isExternal(const Symbol &s) { return s.entry.st_shndx == SHN_UNDEF; }

  /// A GOT slot per symbol that a GOT load names; a stub per external
  /// function that a call names (it may lie beyond a 32-bit displacement).
  void reserveSlotsAndStubs() {
    forEachRelocation([&](const Section &, const Elf64_Rela &r) {
      uint32_t type = ELF64_R_TYPE(r.r_info);
      Symbol &s = symbolOf(r);
      bool call = type == R_X86_64_PLT32 && isExternal(s);
      if ((isGotLoad(type) || call) && !s.slot)
        s.slot = slots_++;
      if (call && !s.stub)
        s.stub = stubs_++;
    });
  }

  void layOut() {
    for (Section &s : sections_) {
      if (!s.region)
        continue;
      uint64_t &end = regionBytes_[size_t(*s.region)];
      s.offset = alignUp(end, std::max<uint64_t>(s.header.sh_addralign, 1));
      end = s.offset + s.header.sh_size;
    }
    uint64_t &code = regionBytes_[size_t(Region::Code)];
    stubsOffset_ = alignUp(code, kStubBytes);
    code = stubsOffset_ + stubs_ * kStubBytes;
    uint64_t &constants = regionBytes_[size_t(Region::Constants)];
    slotsOffset_ = alignUp(constants, sizeof(uint64_t));
    constants = slotsOffset_ + slots_ * sizeof(uint64_t);
    uint64_t start = 0;
    for (size_t r = 0; r < kRegions; ++r) {
      regionStart_[r] = start;
      start += alignUp(regionBytes_[r], pageSize());
    }
    total_ = start;
  }

  void map() {
    if (total_ == 0)
      return;
    void *p = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      throw Error(ErrorKind::Resource, fmt::format("cannot map {} bytes for a kernel: {}", total_,
                                                   std::strerror(errno)));
    loaded_->base_ = static_cast<std::byte *>(p);
    loaded_->bytes_ = total_;
  }

  std::byte *addressIn(Region r, uint64_t offset) const {
    return loaded_->base_ + regionStart_[size_t(r)] + offset;
  }
  std::byte *addressOf(const Section &s) const { return addressIn(*s.region, s.offset); }

  void copySections() {
    for (const Section &s : sections_)
      if (s.region && s.header.sh_type != SHT_NOBITS && s.header.sh_size)
        std::memcpy(addressOf(s), bytes_.range(s.header.sh_offset, s.header.sh_size, "").data(),
                    s.header.sh_size); // NOBITS stays zero, as mmap made it
  }

  void findAddresses() {
    for (size_t k = 1; k < symbols_.size(); ++k) {
      Symbol &s = symbols_[k];
      uint16_t index = s.entry.st_shndx;
      if (index == SHN_UNDEF) {
        void *address = resolve_(s.name);
        if (!address)
          reject(fmt::format("undefined symbol '{}'", s.name));
        setAddress(s, reinterpret_cast<uint64_t>(address));
      } else if (index == SHN_ABS) {
        setAddress(s, s.entry.st_value);
      } else if (index >= SHN_LORESERVE) {
        reject(fmt::format("symbol '{}' is in special section {:#x} (e.g. common)", s.name, index));
      } else if (index >= sections_.size()) {
        reject(fmt::format("symbol '{}' is in section {}, which does not exist", s.name, index));
      } else if (const Section &in = sections_[index]; in.region) {
        if (s.entry.st_value > in.header.sh_size)
          reject(fmt::format("symbol '{}' lies past the end of its section", s.name));
        setAddress(s, reinterpret_cast<uint64_t>(addressOf(in)) + s.entry.st_value);
      }
    }
  }

  void setAddress(Symbol &s, uint64_t address) {
    s.address = address;
    s.hasAddress = true;
    unsigned bind = ELF64_ST_BIND(s.entry.st_info);
    if ((bind == STB_GLOBAL || bind == STB_WEAK) && !s.name.empty() &&
        s.entry.st_shndx != SHN_UNDEF)
      loaded_->symbols_.emplace_back(s.name, reinterpret_cast<void *>(address));
  }

  uint64_t slotAddress(const Symbol &s) const {
    return reinterpret_cast<uint64_t>(addressIn(Region::Constants, slotsOffset_)) +
           *s.slot * sizeof(uint64_t);
  }
  uint64_t stubAddress(const Symbol &s) const {
    return reinterpret_cast<uint64_t>(addressIn(Region::Code, stubsOffset_)) + *s.stub * kStubBytes;
  }

  void relocate() {
    forEachRelocation([&](const Section &target, const Elf64_Rela &r) {
      uint32_t type = ELF64_R_TYPE(r.r_info);
      if (type == R_X86_64_NONE)
        return;
      Symbol &s = symbolOf(r);
      if (ELF64_R_SYM(r.r_info) != 0 && !s.hasAddress)
        reject(fmt::format("a relocation names '{}', which is not loaded", s.name));
      bool wide = type == R_X86_64_64 || type == R_X86_64_PC64;
      std::byte *at = field(target, r.r_offset, wide ? 8 : 4);
      auto place = reinterpret_cast<uint64_t>(at);
      auto addend = uint64_t(r.r_addend);
      switch (type) {
      case R_X86_64_64:
        return write64(at, s.address + addend);
      case R_X86_64_PC64:
        return write64(at, s.address + addend - place);
      case R_X86_64_PC32:
        return write32(at, s.address + addend - place, s);
      case R_X86_64_PLT32:
        return write32(at, (s.stub ? stubAddress(s) : s.address) + addend - place, s);
      case R_X86_64_GOTPCREL:
      case R_X86_64_GOTPCRELX:
      case R_X86_64_REX_GOTPCRELX:
        return write32(at, slotAddress(s) + addend - place, s);
      default:
        reject(fmt::format("relocation type {} (against '{}') is not supported", type, s.name));
      }
    });
  }

  /// The bytes a relocation at `offset` of `target` writes, checked.
  std::byte *field(const Section &target, uint64_t offset, uint64_t width) const {
    if (target.header.sh_type == SHT_NOBITS)
      reject("a relocation in a section without contents");
    if (offset > target.header.sh_size || width > target.header.sh_size - offset)
      reject(fmt::format("a relocation at offset {} lies past the end of its section", offset));
    return addressOf(target) + offset;
  }
  static void write64(std::byte *at, uint64_t value) { std::memcpy(at, &value, 8); }
  /// A signed 32-bit displacement: a value that does not fit is an error,
  /// never truncated.
  static void write32(std::byte *at, uint64_t value, const Symbol &s) {
    auto wide = int64_t(value);
    auto narrow = int32_t(wide);
    if (narrow != wide)
      reject(fmt::format("a 32-bit displacement to '{}' is out of range", s.name));
    std::memcpy(at, &narrow, 4);
  }

  void writeSlotsAndStubs() {
    for (const Symbol &s : symbols_) {
      if (s.slot)
        std::memcpy(reinterpret_cast<void *>(slotAddress(s)), &s.address, sizeof(uint64_t));
      if (s.stub) {
        auto *stub = reinterpret_cast<uint8_t *>(stubAddress(s));
        std::memset(stub, 0xcc, kStubBytes);
        std::memcpy(stub, kJmpIndirect.data(), kJmpIndirect.size());
        // The displacement counts from the end of the 6-byte instruction.
        auto displacement = int64_t(slotAddress(s)) - int64_t(stubAddress(s) + 6);
        auto narrow = int32_t(displacement); // one mapping: always in range
        std::memcpy(stub + 2, &narrow, 4);
      }
    }
  }

  void protect() {
    constexpr std::array<int, kRegions> protection = {PROT_READ | PROT_EXEC, PROT_READ,
                                                      PROT_READ | PROT_WRITE};
    for (size_t r = 0; r < kRegions; ++r) {
      uint64_t bytes = alignUp(regionBytes_[r], pageSize());
      if (bytes && ::mprotect(loaded_->base_ + regionStart_[r], bytes, protection[r]) != 0)
        throw Error(ErrorKind::Resource,
                    fmt::format("cannot protect a kernel's memory: {}", std::strerror(errno)));
    }
  }

  Bytes bytes_;
  const SymbolResolver &resolve_;
  std::unique_ptr<LoadedObject> loaded_; ///< unmaps what is mapped if linking fails
  Elf64_Ehdr header_{};
  std::vector<Section> sections_;
  std::optional<size_t> symtab_;
  std::vector<Symbol> symbols_;
  size_t slots_ = 0, stubs_ = 0;
  std::array<uint64_t, kRegions> regionBytes_{}, regionStart_{};
  uint64_t stubsOffset_ = 0, slotsOffset_ = 0, total_ = 0;
};

void *libmvec() {
  // Never closed: kernels may run until exit.
  static void *const handle = ::dlopen("libmvec.so.1", RTLD_NOW | RTLD_LOCAL);
  return handle;
}

void *kernelSymbol(const std::string &name) {
  if (void *mvec = libmvec())
    if (void *address = ::dlsym(mvec, name.c_str()))
      return address;
  return ::dlsym(RTLD_DEFAULT, name.c_str());
}

std::unique_ptr<LoadedObject> LoadedObject::load(std::string_view elf,
                                                 const SymbolResolver &resolve) {
  return ObjectLinker(elf, resolve).link();
}

LoadedObject::~LoadedObject() {
  if (base_)
    ::munmap(base_, bytes_);
}

void *LoadedObject::symbol(std::string_view name) const {
  for (const auto &[symbolName, address] : symbols_)
    if (symbolName == name)
      return address;
  return nullptr;
}

} // namespace kiln::runtime::jit

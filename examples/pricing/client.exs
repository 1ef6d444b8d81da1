# An Elixir app using the C++ pricing service on the node named by its first argument:
#   elixir --sname app --cookie COOKIE client.exs pricing@host
defmodule Quote do
  defstruct [:item, :quantity, :cents]
end

[service] = Enum.map(System.argv(), &String.to_atom/1)
# The C++ node is visible, as an Elixir node is: connected, it is in Node.list().
true = Node.connect(service)
IO.inspect({Node.list(), Node.list(:hidden)} == {[service], []}, label: "visible")

pricing = {:pricing, service}
apples = GenServer.call(pricing, {:quote, "apple", 3})
IO.inspect(apples)
:ok = GenServer.cast(pricing, {:set_price, "pear", 60})
pears = GenServer.call(pricing, {:quote, "pear", 2})
IO.inspect(pears)
IO.inspect(GenServer.call(pricing, {:quote, "durian", 1}))

IO.inspect(:erpc.call(service, Pricing, :total, [[apples, pears]]), label: "total")

try do
  :erpc.call(service, Pricing, :total, [[:not_a_quote]])
rescue
  # erpc raises an error of the remote side as {:exception, reason, stack}.
  e in ErlangError -> IO.inspect(e.original, label: "raised", width: :infinity)
end

IO.inspect(:rpc.call(service, Pricing, :discount, [apples]), label: "rpc", width: :infinity)

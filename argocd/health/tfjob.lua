-- Argo CD health check for kubeflow.org/TFJob (Lua 5.1, gopher-lua).
-- The newest condition whose status is "True" decides: Succeeded -> Healthy, Failed -> Degraded,
-- Suspended -> Suspended, Created/Running/Restarting -> Progressing.
local health_status = {status = "Progressing", message = "Waiting for the training operator"}
if obj.status == nil or obj.status.conditions == nil then
  return health_status
end
local by_type = {
  Succeeded = "Healthy",
  Failed = "Degraded",
  Suspended = "Suspended",
  Created = "Progressing",
  Running = "Progressing",
  Restarting = "Progressing",
}
-- Final states win over anything listed after them.
for _, final in ipairs({"Failed", "Succeeded"}) do
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == final and condition.status == "True" then
      health_status.status = by_type[final]
      health_status.message = condition.message or final
      return health_status
    end
  end
end
for i = #obj.status.conditions, 1, -1 do
  local condition = obj.status.conditions[i]
  if condition.status == "True" and by_type[condition.type] ~= nil then
    health_status.status = by_type[condition.type]
    health_status.message = condition.message or condition.type
    return health_status
  end
end
return health_status

-- Argo CD health check for uc-operator.dev/DatabricksIntegration (Lua 5.1 as Argo CD runs it).
-- Healthy: Ready is True for the current generation. Degraded: an error phase or Stalled.
-- Suspended: spec.suspend is true (and the resource is not being deleted).
-- Progressing: anything else, including a status that describes an older generation.
local hs = {}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function say(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local errors = {
  createError = true,
  editError = true,
  deleteError = true,
  recurringValidationError = true,
}

local status = obj.status
local generation = obj.metadata.generation
local phase = nil
if status ~= nil then
  phase = status.phase
end
local ready = condition(status, "Ready")
local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")

if obj.metadata.deletionTimestamp ~= nil then
  if phase == "deleteError" then
    hs.status = "Degraded"
    hs.message = "deleteError: " .. say(ready, "cleanup in Databricks failed; it is retried")
  else
    hs.status = "Progressing"
    hs.message = "Deleting: " .. say(reconciling, "cleaning up in Databricks")
  end
  return hs
end

-- The operator leaves a suspended resource alone, so its status may be old: suspension says more.
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended: spec.suspend is true; the operator sends no request to Databricks until it is false"
  return hs
end

if status == nil or phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

-- A status written for an older spec says nothing about the current one.
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. string.format("%d", generation)
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. say(stalled, say(ready, "needs a user's action"))
  return hs
end

if errors[phase] then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. say(ready, "see the resource's conditions and validationResults")
  return hs
end

if ready ~= nil and ready.status == "True" and phase == "enabled" then
  hs.status = "Healthy"
  hs.message = say(ready, "enabled")
  return hs
end

hs.status = "Progressing"
hs.message = phase .. ": " .. say(reconciling, say(ready, "reconciling"))
return hs
